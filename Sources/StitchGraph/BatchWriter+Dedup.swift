import StitchIdentity
import StitchStore

/// Exactly-once storage of events that carry an event id (proto/FRAMING.md
/// "Exactly once"): the writer remembers each stored (site, event id) in the
/// same transaction as the event, so a batch resent after a lost ack, a
/// crash or a reconnect is recognised however it is regrouped.
///
/// An id is remembered for `GraphConfiguration.dedupWindowMs` **of arrival**:
/// it is recognised while its entry's arrival (the arrival clock when it was
/// stored: the latest receive time the writer had applied, its own included)
/// is within the window of the arrival clock now. The event's own time plays no part, so a re-import of
/// a year of history, a backfill in any order or a producer with a wrong
/// clock is recognised just as a live resend is. Receive times are stamped
/// before apply, so the verdict is a function of the batch and the store
/// (DESIGN.md "Determinism").
///
/// Where the ids live, and why: the `dedup` table is ordered by arrival
/// (`StoreKeys.dedupKey`), so remembering an id is an append and forgetting
/// one deletes from the head — a commit dirties a few pages of it, not one
/// page per random id (random ids keyed by id made unpaced ingest 2.4×
/// slower on a store of 5M events). Looking an id up by (site, id) is then
/// done in `DedupMemory`, the graph's in-memory index of that table, which
/// holds exactly what the store holds (see there).
///
/// Expired ids are pruned from the head of the table, at most
/// `dedupPruneBound` per commit. An id past the window that is not pruned
/// yet counts as absent.
extension BatchWriter {
    /// What to do with an event's id.
    enum DedupVerdict {
        /// No id: store, remember nothing.
        case store
        /// Seen within the window: do not store.
        case repeated
        /// New (or its earlier arrival has expired): remembered under the seq
        /// the event is about to be stored as.
        case remembered
    }

    /// Judges `event` against the ids stored so far (this transaction's too)
    /// and, when it is new, remembers it under `seq` in the same step: the
    /// caller stores the event as `seq` (nothing between may refuse it).
    mutating func dedup(_ event: PreparedEvent, seq: UInt64, _ txn: borrowing Transaction) throws -> DedupVerdict {
        guard event.eventID != 0 else { return .store }
        counters.arrivalClockMs = max(counters.arrivalClockMs, event.receivedMs)
        let id = DedupID(site: event.site, eventID: event.eventID)
        // Keyed by the arrival clock, not the event's own receive time: the
        // clock never goes back, so with the seq the key is always the largest.
        let arrivalMs = counters.arrivalClockMs
        let verdict = graph.dedupMemory.judge(id, arrivalMs: arrivalMs, horizonMs: dedupHorizonMs)
        if verdict.repeated { return .repeated }
        if verdict.earlierMs != nil { report.dedupExpiredReplaced += 1 }  // past the window, awaiting pruning: as if forgotten
        try txn.put(graph.tables.dedup, StoreKeys.dedupKey(arrivalMs: arrivalMs, seq: seq), StoreKeys.dedupValue(id), append: true)
        return .remembered
    }

    /// Arrivals before this are outside the window.
    var dedupHorizonMs: Int64 {
        counters.dedupHorizonMs(windowMs: graph.configuration.dedupWindowMs)
    }

    /// How many expired ids one commit forgets at most: enough to outpace
    /// what the batch could add, never unbounded (a batch is bounded by the
    /// group size), so a backlog after a long pause spreads over commits.
    var dedupPruneBound: Int {
        max(GraphLimits.dedupPrunedPerCommitMin, 2 * (report.events + report.repeats.count))
    }

    /// Forgets ids whose arrival left the window, oldest first, at most
    /// `dedupPruneBound`: they are the head of the table.
    mutating func pruneDedup(_ txn: borrowing Transaction) throws {
        let horizon = dedupHorizonMs
        guard horizon != .min else { return }  // nothing remembered yet
        let bound = dedupPruneBound
        var expired: [[UInt8]] = []
        try txn.scan(graph.tables.dedup, from: StoreKeys.dedupKeyPrefix) { key, value in
            guard expired.count < bound, StoreKeys.isDedupKey(key) else { return false }
            let arrivalMs = StoreKeys.decodeDedupKey(key).arrivalMs
            guard arrivalMs < horizon else { return false }
            expired.append(Array(key))
            dedupPruned.append((StoreKeys.decodeDedupValue(value), arrivalMs))
            return true
        }
        for key in expired { _ = try txn.delete(graph.tables.dedup, key) }
        report.dedupPruned += expired.count
    }
}

/// An event id within its site: what the dedup window remembers.
struct DedupID: Hashable, Sendable {
    var site: UInt32
    var eventID: UInt64
}
