import StitchStore

/// In-place upgrades of a store written by an earlier schema (docs/identity.md,
/// "Upgrading a store"). Opening a store writable runs every step from its
/// schema to `IdentityGraph.schemaVersion` in one write transaction, with the
/// schema bump last: a crash mid-way leaves the old store as it was, and the
/// next open starts over. A read-only open of an old store is refused with
/// `GraphError.schemaNeedsMigration`, which says how to upgrade it.
///
/// Each step is tested on a small store of the schema before it, committed
/// under `Tests/StitchGraphTests/Fixtures/schema-N`.
public enum SchemaMigration {
    /// The oldest schema this build upgrades; older stores are refused.
    static let oldestMigratable: UInt32 = 7

    /// What one upgrade did, for the operator's log.
    public struct Report: Sendable, Equatable {
        public var fromSchema: UInt32
        public var toSchema: UInt32
        /// One line per step.
        public var steps: [String]
    }

    /// Upgrades the store from `found` to the current schema inside `txn`.
    static func migrate(from found: UInt32, tables: IdentityGraph.Tables, _ txn: borrowing Transaction) throws -> Report {
        precondition(found >= oldestMigratable && found < IdentityGraph.schemaVersion)
        var steps: [String] = []
        var schema = found
        while schema < IdentityGraph.schemaVersion {
            switch schema {
            case 7: steps.append(try dedupByArrival(tables, txn))
            case 8:
                steps.append(dedupEntriesHoldMany())
                steps.append(try hubsToRejudge(tables, txn))
            case 9: steps.append(try conflictsByNode(tables, txn))
            case 10: steps.append(indexJournal())
            default: preconditionFailure("no migration step from schema \(schema)")
            }
            schema += 1
        }
        var bytes: [UInt8] = []
        ByteCoding.appendLittleEndian(IdentityGraph.schemaVersion, to: &bytes)
        try txn.put(tables.meta, IdentityGraph.schemaKey, bytes)
        return Report(fromSchema: found, toSchema: IdentityGraph.schemaVersion, steps: steps)
    }

    /// Schema 7 → 8: remembered event ids are kept by arrival — key
    /// (`a`, arrival, seq) → (site, event id) — instead of by event time
    /// ((event time, site, event id) → seq), and a repeat is judged by
    /// arrival (`BatchWriter+Dedup`). Each entry's arrival is the stored
    /// event's receive time, read from the log by its seq, so the window of
    /// every migrated id counts from when it really arrived; the arrival
    /// clock becomes the latest of them. An entry whose event is gone is
    /// dropped. Old keys are 20 bytes and new ones 17, so both can share the
    /// table while it is rewritten in chunks.
    static func dedupByArrival(_ tables: IdentityGraph.Tables, _ txn: borrowing Transaction) throws -> String {
        let oldKeyBytes = 20
        let chunkMax = 10_000
        var migrated = 0, dropped = 0
        var latestArrival = Int64.min
        var position: [UInt8]? = nil
        while true {
            var chunk: [(key: [UInt8], seq: UInt64)] = []
            try txn.scan(tables.dedup, from: position) { key, value in
                guard key.count == oldKeyBytes else { return true }  // already rewritten
                guard chunk.count < chunkMax else { return false }
                chunk.append((Array(key), ByteCoding.littleEndian(value, at: 0, as: UInt64.self)))
                return true
            }
            guard let last = chunk.last else { break }
            for (oldKey, seq) in chunk {
                _ = try txn.delete(tables.dedup, oldKey)
                guard let stored = try txn.get(tables.log, StoreKeys.logKey(seq)) else {
                    dropped += 1
                    continue
                }
                let arrivalMs = StoredEvent.receivedMs(of: stored)
                let id = oldKey.withUnsafeBytes {
                    DedupID(site: ByteCoding.bigEndian($0, at: 8, as: UInt32.self), eventID: ByteCoding.bigEndian($0, at: 12, as: UInt64.self))
                }
                var value: [UInt8] = []
                StoreKeys.appendDedupRecord(id, seq: seq, firstSeq: seq, to: &value)
                try txn.put(tables.dedup, StoreKeys.dedupKey(arrivalMs: arrivalMs, seq: seq), value)
                latestArrival = max(latestArrival, arrivalMs)
                migrated += 1
            }
            position = last.key
        }
        if let bytes = try txn.get(tables.meta, GraphCounters.key) {
            var counters = GraphCounters(decoding: bytes)
            counters.arrivalClockMs = latestArrival
            try txn.put(tables.meta, GraphCounters.key, counters.encoded())
        }
        return "7 → 8: \(migrated) remembered event ids rekeyed by arrival, \(dropped) naming no stored event dropped"
    }

    /// Schema 8 → 9: a `dedup` entry holds up to 120 ids of one transaction
    /// (16 bytes each: site, event id, seq past the key's) instead of one id
    /// (12 bytes: site, event id; the key's seq). Schema 8's entries stay as
    /// they are: they read as entries of one id (`StoreKeys.forEachDedupRecord`)
    /// until pruning forgets them, a window after they arrived, so nothing is
    /// rewritten. The bump keeps an older build, which would misread the new
    /// entries, from opening the store.
    static func dedupEntriesHoldMany() -> String {
        "8 → 9: remembered event ids are written up to 120 to an entry; the schema-8 entries are read as they are"
    }

    /// Also 8 → 9: the shared-identifier rule now counts only links between
    /// distinguishable persons (`HubRule`), so the automatic quarantines the
    /// earlier rule made are re-judged once the graph is open
    /// (`IdentityGraph.rejudgeHubsIfPending`), which needs the whole graph.
    static func hubsToRejudge(_ tables: IdentityGraph.Tables, _ txn: borrowing Transaction) throws -> String {
        var automatic = 0
        try txn.scan(tables.quarantine) { _, value in
            if QuarantineRecord(decoding: value).source == .automatic { automatic += 1 }
            return true
        }
        guard automatic > 0 else { return "8 → 9: no automatic quarantine to re-judge" }
        try txn.put(tables.meta, IdentityGraph.hubRejudgePendingKey, [1])
        return "8 → 9: \(automatic) automatic quarantines to re-judge under the distinguishable-persons rule"
    }

    /// Schema 9 → 10: every conflict is listed under both persons' nodes in
    /// `nconflict`, so erasing a person (`forget`, retention) reads its
    /// members' conflicts instead of scanning every conflict recorded. Built
    /// from the `conflict` table in one pass.
    static func conflictsByNode(_ tables: IdentityGraph.Tables, _ txn: borrowing Transaction) throws -> String {
        var conflicts: [ConflictRecord] = []
        try txn.scan(tables.conflict) { key, value in
            conflicts.append(ConflictRecord(seq: ByteCoding.bigEndian(key, at: 0, as: UInt64.self), decoding: value))
            return true
        }
        var entries = conflicts.flatMap(\.indexKeys)
        entries.sort { $0.lexicographicallyPrecedes($1) }  // in key order: LMDB fills pages as it appends
        for key in entries { try txn.put(tables.conflictByNode, key, []) }
        return "9 → 10: \(conflicts.count) conflicts listed by person (\(entries.count) entries), so erasing a person no longer scans them all"
    }

    /// Schema 10 → 11: the event index's write-behind (`IndexOverlay`)
    /// keeps the entries it has not written yet in a new table, `ejournal`.
    /// Every entry of a schema-10 store is in `event` already, so the
    /// journal starts empty (the environment's open created the table) and
    /// nothing else changes.
    static func indexJournal() -> String {
        "10 → 11: the event index's write-behind journal (table ejournal) added, empty: every entry is in the index"
    }
}
