import Foundation

/// How a store is cut into shards: how many LMDB environments, and which one
/// holds each site (a site always lives in exactly one shard, so every query
/// about it, and every beacon of it, goes to one environment).
///
/// Shard 0 is the data directory itself and shard k ≥ 1 its subdirectory
/// `shard-k`, so a one-shard store has the layout every earlier version wrote.
/// The layout is recorded in `shards.json` beside shard 0 when the store is
/// created; a later start that asks for another layout is refused, because
/// sites would silently move away from their data (see `migrationHint`).
public struct ShardLayout: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Environments, 1…`countMax`.
    public let count: Int
    /// Sites placed by hand (site → shard); every other site by `site % count`.
    public let sites: [UInt32: Int]

    /// Most shards a store may have: more writers than cores only add context
    /// switches, and each environment costs a map and reader table.
    public static let countMax = 16
    /// Default for a new store: one shard per core, at most this many.
    public static let defaultCountMax = 4
    /// The file recording the layout, in the data directory.
    public static let fileName = "shards.json"

    public init(count: Int, sites: [UInt32: Int] = [:]) throws(ShardLayoutError) {
        guard (1...Self.countMax).contains(count) else { throw .invalid("shards must be 1 to \(Self.countMax), not \(count)") }
        for (site, shard) in sites where !(0..<count).contains(shard) {
            throw .invalid("site \(site) is placed in shard \(shard), but there are only shards 0 to \(count - 1)")
        }
        self.count = count
        self.sites = sites
    }

    /// The default for a new store on this machine: one shard per core, up to `defaultCountMax`.
    public static func standard(cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> ShardLayout {
        try! ShardLayout(count: min(max(cores, 1), defaultCountMax))
    }

    /// The shard holding `site`.
    @inline(__always)
    public func shard(of site: UInt32) -> Int {
        sites[site] ?? Int(site % UInt32(count))
    }

    /// The directory of shard `index` in `dataDirectory`.
    public static func directory(of index: Int, in dataDirectory: String) -> String {
        index == 0 ? dataDirectory : (dataDirectory as NSString).appendingPathComponent("shard-\(index)")
    }

    public var description: String {
        let placed = sites.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return placed.isEmpty ? "\(count) shard\(count == 1 ? "" : "s")" : "\(count) shards (placed: \(placed))"
    }

    // MARK: The record in the data directory

    /// The layout recorded in `dataDirectory`; a store from before shards (an
    /// LMDB file and no record) is one shard; nil when there is no store yet.
    public static func recorded(in dataDirectory: String) throws(ShardLayoutError) -> ShardLayout? {
        let file = (dataDirectory as NSString).appendingPathComponent(fileName)
        if let data = FileManager.default.contents(atPath: file) {
            do {
                let stored = try JSONDecoder().decode(ShardLayout.self, from: data)
                return try ShardLayout(count: stored.count, sites: stored.sites)
            } catch let error as ShardLayoutError {
                throw error
            } catch {
                throw .invalid("\(file) is unreadable: \(error)")
            }
        }
        let lmdb = (dataDirectory as NSString).appendingPathComponent("data.mdb")
        return FileManager.default.fileExists(atPath: lmdb) ? try ShardLayout(count: 1) : nil
    }

    /// The layout to open `dataDirectory` with: the recorded one; for a new
    /// store `requested` (or the machine's default), recorded now.
    ///
    /// - Parameter requested: the operator's explicit choice, nil when unset.
    /// - Throws: `.mismatch` when the store was made with another layout.
    public static func resolve(
        dataDirectory: String, requested: ShardLayout?, readOnly: Bool = false
    ) throws(ShardLayoutError) -> ShardLayout {
        if let existing = try recorded(in: dataDirectory) {
            if let requested, requested != existing { throw .mismatch(recorded: existing, requested: requested) }
            return existing
        }
        let layout = requested ?? .standard()
        if !readOnly { try layout.record(in: dataDirectory) }
        return layout
    }

    /// Writes the record (atomically: a crash leaves the old file or the new).
    public func record(in dataDirectory: String) throws(ShardLayoutError) {
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let file = URL(fileURLWithPath: dataDirectory).appendingPathComponent(Self.fileName)
            try encoder.encode(self).write(to: file, options: .atomic)
        } catch {
            throw .invalid("cannot record the shard layout in \(dataDirectory): \(error)")
        }
    }

    // `{"shards": 2, "sites": {"9": 0}}`: site numbers as JSON object keys.
    enum CodingKeys: String, CodingKey { case count = "shards", sites }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(Int.self, forKey: .count)
        let placed = try container.decodeIfPresent([String: Int].self, forKey: .sites) ?? [:]
        var sites: [UInt32: Int] = [:]
        for (key, shard) in placed {
            guard let site = UInt32(key) else {
                throw DecodingError.dataCorruptedError(forKey: .sites, in: container, debugDescription: "site \(key) is not a number")
            }
            sites[site] = shard
        }
        self.sites = sites
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(Dictionary(uniqueKeysWithValues: sites.map { (String($0.key), $0.value) }), forKey: .sites)
    }
}

/// A shard layout that cannot be used.
public enum ShardLayoutError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    /// The store was created with another layout.
    case mismatch(recorded: ShardLayout, requested: ShardLayout)

    public var description: String {
        switch self {
        case .invalid(let reason):
            reason
        case .mismatch(let recorded, let requested):
            "the store was created with \(recorded), the configuration asks for \(requested): sites would lose their data. Keep the recorded layout (unset `shards`/`shard_sites`), or move the data with `ops/reshard.sh OLD_DIR NEW_DIR SHARDS` while the server is stopped"
        }
    }
}
