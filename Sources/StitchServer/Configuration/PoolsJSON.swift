import Foundation
import NIOConcurrencyHelpers
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire
import SwiftProtobuf

/// The JSON form of number pools: one object keyed by site, each value a
/// `stitch.v1.NumberPool` in protobuf JSON (`dynamic_numbers` or
/// `dynamicNumbers`, …). Used by the `number_pools` setting and by
/// `<data_dir>/pools.json`, where `pool_set` keeps what it was told.
enum PoolsJSON {
    /// Parses and normalizes pools; the error names the site and the number.
    static func parse(_ text: String, key: String = "number_pools") throws(ConfigurationError) -> [UInt32: NumberPool] {
        var pools: [UInt32: NumberPool] = [:]
        for (site, wire) in try parseWire(text, key: key) {
            do {
                pools[site] = try NumberPool(wire)
            } catch {
                throw .invalidValue(key: key, value: "", reason: "site \(site): \(error)")
            }
        }
        return pools
    }

    /// Parses without normalizing (an empty pool stays, meaning "removed").
    static func parseWire(_ text: String, key: String) throws(ConfigurationError) -> [UInt32: Stitch_V1_NumberPool] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw .invalidValue(key: key, value: text, reason: "expected a JSON object keyed by site")
        }
        var pools: [UInt32: Stitch_V1_NumberPool] = [:]
        for (siteText, value) in object {
            guard let site = UInt32(siteText), site > 0 else {
                throw .invalidValue(key: key, value: siteText, reason: "sites are positive integers")
            }
            do {
                let data = try JSONSerialization.data(withJSONObject: value)
                pools[site] = try Stitch_V1_NumberPool(jsonUTF8Data: data)
            } catch {
                throw .invalidValue(key: key, value: "", reason: "site \(site): not a NumberPool: \(error)")
            }
        }
        return pools
    }

    /// The JSON text of `pools`, sites in order.
    static func text(_ pools: [UInt32: Stitch_V1_NumberPool]) -> String {
        let entries = pools.keys.sorted().map { site in
            "\"\(site)\":" + ((try? pools[site]!.jsonString()) ?? "{}")
        }
        return "{" + entries.joined(separator: ",") + "}"
    }
}

/// Pools changed through `pool_set`, kept in `<data_dir>/pools.json` so they
/// outlive a restart. At start they override `number_pools` for their sites.
final class PoolOverrides: Sendable {
    let path: String
    private let overrides: NIOLockedValueBox<[UInt32: Stitch_V1_NumberPool]>

    init(dataDirectory: String) throws(ConfigurationError) {
        path = (dataDirectory as NSString).appendingPathComponent("pools.json")
        var loaded: [UInt32: Stitch_V1_NumberPool] = [:]
        if let data = FileManager.default.contents(atPath: path) {
            loaded = try PoolsJSON.parseWire(String(decoding: data, as: UTF8.self), key: path)
        }
        overrides = NIOLockedValueBox(loaded)
    }

    /// The overrides as read at start.
    var pools: [UInt32: Stitch_V1_NumberPool] { overrides.withLockedValue { $0 } }

    /// Records a site's new pool and rewrites the file (write, then rename).
    func set(site: UInt32, _ pool: Stitch_V1_NumberPool) throws {
        // Under the lock, so two admins' writes land in the order they were made.
        try overrides.withLockedValue { overrides in
            var next = overrides
            next[site] = pool
            let temporary = path + ".tmp"
            try Data(PoolsJSON.text(next).utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw ConfigurationError.unreadableFile(path: path, reason: "rename failed: errno \(errno)")
            }
            overrides = next
        }
    }
}
