import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// The index entries `txn`'s snapshot has not written to `event` yet.
    /// Readers of the `event` index or of a node's event counts and
    /// last-seen time add these (`IndexOverlay`); a write transaction starts
    /// from them (it sees the latest commit, published or not yet).
    func indexOverlay(_ txn: borrowing Transaction) throws -> IndexOverlay {
        let version = try IndexOverlay.State.version(tables.meta, txn)
        if let overlay = writeBehind.overlay(version: version) { return overlay }
        // A snapshot older than every kept overlay: rebuild it from the
        // snapshot itself.
        writeBehind.rebuilds.add(1, ordering: .relaxed)
        return try IndexOverlay.load(meta: tables.meta, journal: tables.eventJournal, txn)
    }

    /// A node's latest event time, with its events not in `event` yet.
    func lastSeenMs(of node: UInt64, _ record: NodeRecord, _ overlay: IndexOverlay) -> Int64 {
        max(record.lastSeenMs, overlay.lastSeenMs(of: node))
    }

    /// A write transaction for everything but `apply`: the write-behind is
    /// emptied into `event` first, so repairs, erasures and carries see and
    /// change the whole index and every node's counts.
    func writeDraining<Result>(_ body: (borrowing Transaction) throws -> Result) throws -> Result {
        let (result, overlay) = try environment.write { txn in
            try drainAll(txn)
            return (try body(txn), try indexOverlay(txn))
        }
        writeBehind.publish(overlay)
        return result
    }

    /// Writes every deferred entry to `event` and its anchor's counts, and
    /// empties the journal, inside `txn`.
    func drainAll(_ txn: borrowing Transaction) throws {
        var overlay = try indexOverlay(txn)
        guard try !overlay.isEmpty || txn.count(tables.eventJournal) > 0 else { return }
        let entries = overlay.undrained()
        try Self.writeIndex(entries[...], tables: tables, txn)
        try txn.withCursor(tables.eventJournal) { cursor in
            while try cursor.first() != nil { try cursor.deleteCurrent() }
        }
        overlay.clear(nextSeq: try counters(txn).nextEvent)
        overlay.state.version &+= 1
        try txn.put(tables.meta, IndexOverlay.State.key, overlay.state.encoded())
        writeBehind.stage(overlay)
    }

    /// Puts sorted entries into the `event` table through one cursor: a key
    /// on the leaf the previous one went to costs a search of that leaf, not
    /// a descent from the root (`Cursor.put`).
    static func putIndexEntries(_ entries: ArraySlice<PendingEvent>, table: Table, _ txn: borrowing Transaction) throws {
        try txn.withCursor(table) { cursor in
            var key: [UInt8] = []
            key.reserveCapacity(24)
            for entry in entries {
                StoreKeys.eventKey(anchor: entry.anchor, timeMs: entry.timeMs, seq: entry.seq, into: &key)
                try cursor.put(key, [entry.type])
            }
        }
    }

    /// Puts sorted entries into `event` and adds them to their anchors'
    /// counts and last-seen times (one read and write per anchor).
    static func writeIndex(
        _ entries: ArraySlice<PendingEvent>, tables: Tables, _ txn: borrowing Transaction
    ) throws {
        guard !entries.isEmpty else { return }
        try putIndexEntries(entries, table: tables.event, txn)
        try txn.withCursor(tables.node) { cursor in
            try entries.forEachAnchorRun { anchor, run in
                let key = StoreKeys.nodeKey(anchor)
                guard let stored = try cursor.seek(atLeast: key), Array(stored.key) == key else {
                    preconditionFailure("write-behind: anchor \(anchor) has no node")
                }
                var record = NodeRecord(copying: stored.value)
                record.addAnchored(run)
                try cursor.put(key, record.bytes)
            }
        }
    }
}
