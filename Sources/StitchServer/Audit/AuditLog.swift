import Foundation
import StitchGraph
import StitchStore
import StitchWire

/// The audit log: every admin action — `pool_set`, quarantine,
/// unquarantine, forget, and the retention and token changes a start finds
/// in the configuration — with its time, the token's name and its
/// arguments, durably, oldest first.
///
/// It is its own small LMDB environment, `audit/` in the data directory, so
/// it is apart from the shards (an action names one site, a token change
/// none) and node-local: in cluster mode each node records the admin
/// entries its appliers apply, with the entry's clock.
///
/// An action is recorded in two commits, each synced: `begin` before it is
/// applied (outcome "started") and `finish` after, with its outcome. So no
/// action is applied unrecorded; one a crash interrupted stays "started".
/// Identifier values are never written, only their kind and keyed hash.
///
/// ```
/// entry  seq u64 (big-endian)  → Stitch_V1_AuditEntry without its seq (protobuf)
/// meta   name (ASCII)          → value (the configuration last recorded)
/// ```
public final class AuditLog: Sendable {
    /// The directory in the data directory.
    public static let directoryName = "audit"
    /// Most entries one read returns.
    public static let readLimitMax = 1000
    static let readLimitDefault = 100

    private let environment: Environment
    private let entries: Table
    private let meta: Table

    /// Opens (creating it when missing) the audit log of `dataDirectory`.
    public init(dataDirectory: String, readOnly: Bool = false) throws {
        let path = (dataDirectory as NSString).appendingPathComponent(Self.directoryName)
        environment = try Environment(
            path: path, tables: ["entry", "meta"], options: StoreOptions(mapBytes: 64 << 20, readOnly: readOnly, readersMax: 64))
        guard environment.missingTables.isEmpty else {
            environment.close()
            throw StoreError(.notFound, operation: "audit log \(path) lacks its tables \(environment.missingTables)")
        }
        entries = environment.table("entry")
        meta = environment.table("meta")
    }

    public func close() { environment.close() }

    /// Whether `dataDirectory` has an audit log (a store from before it has none).
    public static func exists(in dataDirectory: String) -> Bool {
        FileManager.default.fileExists(atPath: ((dataDirectory as NSString).appendingPathComponent(directoryName) as NSString).appendingPathComponent("data.mdb"))
    }

    /// A consistent copy into `directory` (`stitch backup`).
    public func backup(to directory: String, compact: Bool) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try environment.copy(to: directory, compact: compact)
    }

    /// Records an action as started; returns its seq, for `finish`.
    @discardableResult
    func begin(
        action: String, site: UInt32, tokenName: String, arguments: KeyValuePairs<String, String>, timeMs: Int64,
        outcome: String = "started"
    ) throws -> UInt64 {
        var entry = Stitch_V1_AuditEntry()
        entry.timeMs = timeMs
        entry.action = action
        entry.site = site
        entry.tokenName = tokenName
        entry.arguments = arguments.map { pair in .with { $0.name = pair.key; $0.value = pair.value } }
        entry.outcome = outcome
        let value: [UInt8] = try entry.serializedBytes()
        return try environment.write { txn in
            let last = try txn.withCursor(entries) { cursor in try cursor.last().map { Self.seq(of: $0.key) } }
            let seq = (last ?? 0) + 1
            try txn.put(entries, Self.key(seq), value, append: true)
            return seq
        }
    }

    /// Records the outcome of action `seq`.
    func finish(_ seq: UInt64, outcome: String) throws {
        try environment.write { txn in
            guard let stored = try txn.get(entries, Self.key(seq)) else { return }
            var entry = try Stitch_V1_AuditEntry(serializedBytes: Data(stored))
            entry.outcome = outcome
            try txn.put(entries, Self.key(seq), try entry.serializedBytes())
        }
    }

    /// Entries after `afterSeq`, oldest first, at most `limit` (0: 100);
    /// only site `site`'s unless it is 0.
    public func read(afterSeq: UInt64, limit: Int, site: UInt32 = 0) throws -> [Stitch_V1_AuditEntry] {
        let limit = limit == 0 ? Self.readLimitDefault : min(limit, Self.readLimitMax)
        return try environment.read { txn in
            var found: [Stitch_V1_AuditEntry] = []
            try txn.scan(entries, from: Self.key(afterSeq &+ 1)) { key, value in
                var entry = try Stitch_V1_AuditEntry(serializedBytes: Data(value))
                guard site == 0 || entry.site == site else { return true }
                entry.seq = Self.seq(of: key)
                found.append(entry)
                return found.count < limit
            }
            return found
        }
    }

    /// A configuration value recorded by `setRecorded`, to compare with the next start's.
    func recorded(_ name: String) throws -> String? {
        try environment.read { txn in try txn.get(meta, Array(name.utf8)).map { String(decoding: $0, as: UTF8.self) } }
    }

    func setRecorded(_ name: String, _ value: String) throws {
        try environment.write { txn in try txn.put(meta, Array(name.utf8), Array(value.utf8)) }
    }

    private static func key(_ seq: UInt64) -> [UInt8] {
        withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    private static func seq(of key: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
    }
}
