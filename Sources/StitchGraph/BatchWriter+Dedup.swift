import StitchIdentity
import StitchStore

/// Exactly-once storage of events that carry an event id (proto/FRAMING.md
/// "Exactly once"): the writer remembers each stored (site, event id) in the
/// same transaction as the event, so a batch resent after a lost ack, a
/// crash or a reconnect is recognised however it is regrouped.
///
/// An id is remembered for `GraphConfiguration.dedupWindowMs` **of arrival**:
/// its entry holds the server's receive time, and a repeat is recognised
/// while that time is within the window of the arrival clock (the latest
/// receive time the writer has applied). The event's own time plays no part,
/// so a re-import of a year of history, a backfill in any order or a producer
/// with a wrong clock is recognised just as a live resend is. The arrival
/// clock is the server's own and is stamped on each event before apply, so
/// the verdict is a function of the batch and the store (DESIGN.md
/// "Determinism").
///
/// Expired entries are swept, never searched for: each commit advances a
/// cursor (`dedupsweep` in `meta`) over at most `dedupSweepBound` entries in
/// key order, wrapping at the end, and deletes those past the window. The
/// work per commit is bounded, and since every commit sweeps at least twice
/// the ids it can add, one pass over the table takes at most about half a
/// window at full ingest: an id is gone at most ~1.5 windows after arrival.
/// An entry past the window but not swept yet counts as absent.
///
/// Cost per remembered id: a 12-byte key and a 16-byte value in an LMDB leaf
/// (8-byte node header, 2-byte slot), about 38 bytes at 100% fill; random ids
/// fill B-tree leaves to ~70%, so ~55 bytes of the file per id (README
/// "Exactly once" has the figure measured with 10M ids).
extension BatchWriter {
    /// What to do with an event's id.
    enum DedupVerdict {
        /// No id: store, remember nothing.
        case store
        /// Seen within the window: do not store.
        case repeated
        /// New (or its entry had expired): remembered under the seq the event
        /// is about to be stored as.
        case remembered
    }

    /// Judges `event` against the ids stored so far (this transaction's too)
    /// and, when it is new, remembers it under `seq` in the same step: the
    /// caller stores the event as `seq` (nothing between may refuse it).
    mutating func dedup(_ event: PreparedEvent, seq: UInt64, _ txn: borrowing Transaction) throws -> DedupVerdict {
        guard event.eventID != 0 else { return .store }
        counters.arrivalClockMs = max(counters.arrivalClockMs, event.receivedMs)
        let value = DedupEntry(seq: seq, arrivalMs: event.receivedMs).encoded()
        let key = StoreKeys.dedupKey(site: event.site, eventID: event.eventID)
        guard let existing = try txn.insert(graph.tables.dedup, key, value) else { return .remembered }
        if DedupEntry(decoding: existing).arrivalMs >= dedupHorizonMs { return .repeated }
        // Past the window, awaiting the sweep: as if forgotten.
        try txn.put(graph.tables.dedup, key, value)
        report.dedupExpiredReplaced += 1
        return .remembered
    }

    /// Arrivals before this are outside the window.
    var dedupHorizonMs: Int64 {
        counters.dedupHorizonMs(windowMs: graph.configuration.dedupWindowMs)
    }

    /// How many entries one commit sweeps: enough to outpace what the batch
    /// could add, never unbounded (a batch is bounded by the group size).
    var dedupSweepBound: Int {
        max(GraphLimits.dedupSweptPerCommitMin, 2 * (report.events + report.repeats.count))
    }

    /// Advances the sweep over `dedup` by at most `dedupSweepBound` entries,
    /// wrapping once at the end, and forgets the ids whose arrival left the
    /// window. The position is stored in the same transaction.
    mutating func pruneDedup(_ txn: borrowing Transaction) throws {
        let horizon = dedupHorizonMs
        guard horizon != .min else { return }  // nothing remembered yet
        let budget = dedupSweepBound
        let start = try txn.get(graph.tables.meta, StoreKeys.dedupSweepMetaKey).map { Array($0) }
        var visited = 0
        var expired: [[UInt8]] = []
        let table = graph.tables.dedup
        /// Visits entries from `from` until the budget is spent, `stop` says
        /// so, or the table ends; returns where the next visit starts (nil
        /// once the table ended: the next pass begins at the first key).
        func sweep(from: [UInt8]?, stop: (UnsafeRawBufferPointer) -> Bool) throws -> [UInt8]? {
            var next: [UInt8]? = nil
            try txn.scan(table, from: from) { key, value in
                guard visited < budget, !stop(key) else {
                    next = Array(key)
                    return false
                }
                visited += 1
                if DedupEntry(decoding: value).arrivalMs < horizon { expired.append(Array(key)) }
                return true
            }
            return next
        }
        var position = try sweep(from: start) { _ in false }
        if position == nil, let start, visited < budget {
            // Wrap: from the first key up to where this sweep began.
            position = try sweep(from: nil) { !$0.lexicographicallyPrecedes(start) }
        }
        for key in expired { _ = try txn.delete(table, key) }
        report.dedupPruned += expired.count
        if let position {
            if position != start { try txn.put(graph.tables.meta, StoreKeys.dedupSweepMetaKey, position) }
        } else if start != nil {
            _ = try txn.delete(graph.tables.meta, StoreKeys.dedupSweepMetaKey)
        }
    }
}

/// A `dedup` value: the seq the id was stored as (erasure and verify find the
/// event by it) and the server's time of its arrival (the window counts from it).
struct DedupEntry: Equatable {
    var seq: UInt64
    var arrivalMs: Int64

    static let byteCount = 16

    init(seq: UInt64, arrivalMs: Int64) {
        self.seq = seq
        self.arrivalMs = arrivalMs
    }

    init(decoding bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "dedup entry of \(bytes.count) bytes")
        seq = ByteCoding.littleEndian(bytes, at: 0, as: UInt64.self)
        arrivalMs = ByteCoding.littleEndian(bytes, at: 8, as: Int64.self)
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        ByteCoding.appendLittleEndian(seq, to: &bytes)
        ByteCoding.appendLittleEndian(arrivalMs, to: &bytes)
        return bytes
    }
}
