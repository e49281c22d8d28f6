import StitchIdentity
import StitchStore

/// Exactly-once storage of events that carry an event id (proto/FRAMING.md
/// "Exactly once"): the writer remembers each stored (site, event id, event
/// time) in the same transaction as the event, so a batch resent after a lost
/// ack, a crash or a reconnect is recognised however it is regrouped. A resend
/// is the same beacon, so it carries the same time; keying by time first keeps
/// the table append-mostly (see `StoreKeys.dedupKey`).
///
/// An id is remembered for `GraphConfiguration.dedupWindowMs` of event time.
/// The window slides on the dedup clock: the latest event time the writer has
/// seen, but never more than `GraphLimits.dedupClockSkewMs` past the server's
/// own clock (one beacon dated 2199 must not forget every id). An event older
/// than the window is stored without dedup (its id could already have been
/// forgotten, so a "not seen" answer would be a guess) and counted. Entries
/// that leave the window are pruned a bounded number per commit.
extension BatchWriter {
    /// What to do with an event's id.
    enum DedupVerdict {
        /// No id, or too old to judge: store, remember nothing.
        case store
        /// Seen before: do not store.
        case repeated
        /// New: remembered under the seq the event is about to be stored as.
        case remembered
    }

    /// Judges `event` against the ids stored so far (this transaction's too)
    /// and, when it is new, remembers it under `seq` in the same step: the
    /// caller stores the event as `seq` (nothing between may refuse it).
    mutating func dedup(_ event: PreparedEvent, seq: UInt64, _ txn: borrowing Transaction) throws -> DedupVerdict {
        guard event.eventID != 0 else { return .store }
        let seen = min(event.timeMs, event.receivedMs &+ GraphLimits.dedupClockSkewMs)
        counters.dedupClockMs = max(counters.dedupClockMs, seen)
        guard event.timeMs >= dedupHorizonMs else {
            report.dedupOutsideWindow += 1
            return .store
        }
        var value: [UInt8] = []
        value.reserveCapacity(8)
        ByteCoding.appendLittleEndian(seq, to: &value)
        let key = StoreKeys.dedupKey(timeMs: event.timeMs, site: event.site, eventID: event.eventID)
        return try txn.insert(graph.tables.dedup, key, value) ? .remembered : .repeated
    }

    /// Event times before this are outside the window.
    var dedupHorizonMs: Int64 {
        counters.dedupHorizonMs(windowMs: graph.configuration.dedupWindowMs)
    }

    /// Forgets ids whose event time left the window, oldest first, at most
    /// `GraphLimits.dedupPrunedPerCommitMax` or twice the batch's events per
    /// transaction: bounded work per commit, and a backlog (a backfill that
    /// moves the window by days in seconds) shrinks by at least the batch's
    /// size every commit, so pruning keeps pace with any ingest rate.
    mutating func pruneDedup(_ txn: borrowing Transaction) throws {
        let horizon = dedupHorizonMs
        let bound = max(GraphLimits.dedupPrunedPerCommitMax, 2 * report.events)
        var expired: [[UInt8]] = []
        try txn.scan(graph.tables.dedup) { key, _ in
            guard expired.count < bound,
                StoreKeys.decodeDedupKey(key).timeMs < horizon
            else { return false }
            expired.append(Array(key))
            return true
        }
        for key in expired { _ = try txn.delete(graph.tables.dedup, key) }
        report.dedupPruned += expired.count
    }
}
