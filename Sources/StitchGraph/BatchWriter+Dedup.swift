import StitchIdentity
import StitchStore

/// Exactly-once storage of events that carry an event id (proto/FRAMING.md
/// "Exactly once"): the writer remembers each stored (site, event id) in the
/// same transaction as the event, so a batch resent after a lost ack, a
/// crash or a reconnect is recognised however it is regrouped.
///
/// An id is remembered for `GraphConfiguration.dedupWindowMs` **of arrival**:
/// it is recognised while its arrival is within the window of the arrival
/// clock now. An id's arrival is the arrival clock of the transaction that
/// stored it: the latest receive time among that batch's events with ids
/// (and never earlier than the clock before it), so a group commit's ids
/// share one arrival, at most the group's span of milliseconds after their
/// own. The event's own time plays no part, so a re-import of a year of
/// history, a backfill in any order or a producer with a wrong clock is
/// recognised just as a live resend is. Receive times are stamped before
/// apply, so the verdict is a function of the batch and the store
/// (DESIGN.md "Determinism").
///
/// Where the ids live, and why: the `dedup` table is ordered by arrival
/// (`StoreKeys.dedupKey`), and a transaction writes its new ids as a few
/// entries of up to `StoreKeys.dedupRecordsPerEntryMax` ids each, appended
/// at flush: one B-tree append per 120 ids instead of one per id (which cost
/// about 10% of unpaced ingest), 16 bytes per id, and forgetting deletes
/// whole entries from the head. Random ids keyed by id cost one dirty page
/// per id per commit (2.4× slower ingest on a store of 5M events). Looking
/// an id up by (site, id) is done in `DedupMemory`, the graph's in-memory
/// index of that table, which holds exactly what the store holds.
///
/// Expired entries are pruned from the head of the table, at most
/// `dedupPruneBound` ids per commit. An id past the window that is not
/// pruned yet counts as absent.
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

    /// Moves the arrival clock to the latest receive time among `events`
    /// that carry an id: the arrival of every id this transaction stores.
    mutating func startArrival(_ events: [PreparedEvent]) {
        for event in events where event.eventID != 0 {
            counters.arrivalClockMs = max(counters.arrivalClockMs, event.receivedMs)
        }
    }

    /// Judges `event` against the ids stored so far (this transaction's too)
    /// and, when it is new, remembers it under `seq` in the same step: the
    /// caller stores the event as `seq` (nothing between may refuse it).
    mutating func dedup(_ event: PreparedEvent, seq: UInt64) -> DedupVerdict {
        guard event.eventID != 0 else { return .store }
        precondition(event.receivedMs <= counters.arrivalClockMs, "startArrival was not called with this batch")
        let id = DedupID(site: event.site, eventID: event.eventID)
        let verdict = graph.dedupMemory.judge(id, arrivalMs: counters.arrivalClockMs, horizonMs: dedupHorizonMs)
        if verdict.repeated { return .repeated }
        if verdict.earlierMs != nil { report.dedupExpiredReplaced += 1 }  // past the window, awaiting pruning: as if forgotten
        dedupRemembered.append((id, seq))
        return .remembered
    }

    /// Arrivals before this are outside the window.
    var dedupHorizonMs: Int64 {
        counters.dedupHorizonMs(windowMs: graph.configuration.dedupWindowMs)
    }

    /// Writes the ids this transaction remembered, in seq order, as entries
    /// of at most `dedupRecordsPerEntryMax` ids keyed by (arrival clock,
    /// first seq): each key is the table's largest, so each is an append.
    mutating func writeRemembered(_ txn: borrowing Transaction) throws {
        guard !dedupRemembered.isEmpty else { return }
        let arrivalMs = counters.arrivalClockMs
        var value: [UInt8] = []
        value.reserveCapacity(StoreKeys.dedupRecordsPerEntryMax * StoreKeys.dedupRecordBytes)
        var start = 0
        while start < dedupRemembered.count {
            let end = min(dedupRemembered.count, start + StoreKeys.dedupRecordsPerEntryMax)
            let firstSeq = dedupRemembered[start].seq
            value.removeAll(keepingCapacity: true)
            for (id, seq) in dedupRemembered[start..<end] {
                StoreKeys.appendDedupRecord(id, seq: seq, firstSeq: firstSeq, to: &value)
            }
            try txn.put(graph.tables.dedup, StoreKeys.dedupKey(arrivalMs: arrivalMs, seq: firstSeq), value, append: true)
            start = end
        }
    }

    /// How many expired ids one commit forgets at most: enough to outpace
    /// what the batch could add, never unbounded (a batch is bounded by the
    /// group size), so a backlog after a long pause spreads over commits.
    /// Whole entries are forgotten, so a commit may forget up to one
    /// entry's ids (120) fewer, and always at least one entry.
    var dedupPruneBound: Int {
        max(GraphLimits.dedupPrunedPerCommitMin, 2 * (report.events + report.repeats.count))
    }

    /// Forgets entries whose arrival left the window, oldest first, holding
    /// at most `dedupPruneBound` ids in all: they are the head of the table.
    mutating func pruneDedup(_ txn: borrowing Transaction) throws {
        let horizon = dedupHorizonMs
        guard horizon != .min else { return }  // nothing remembered yet
        let bound = dedupPruneBound
        var expired: [[UInt8]] = []
        var forgotten: [(id: DedupID, arrivalMs: Int64)] = []
        try txn.scan(graph.tables.dedup, from: StoreKeys.dedupKeyPrefix) { key, value in
            guard StoreKeys.isDedupKey(key) else { return false }
            let (arrivalMs, firstSeq) = StoreKeys.decodeDedupKey(key)
            guard arrivalMs < horizon else { return false }
            let before = forgotten.count
            StoreKeys.forEachDedupRecord(value, firstSeq: firstSeq) { id, _ in forgotten.append((id, arrivalMs)) }
            guard before == 0 || forgotten.count <= bound else {
                forgotten.removeSubrange(before...)
                return false
            }
            expired.append(Array(key))
            return true
        }
        for key in expired { _ = try txn.delete(graph.tables.dedup, key) }
        dedupPruned.append(contentsOf: forgotten)
        report.dedupPruned += forgotten.count
    }
}

/// An event id within its site: what the dedup window remembers.
struct DedupID: Hashable, Sendable {
    var site: UInt32
    var eventID: UInt64
}
