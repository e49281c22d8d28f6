import StitchStore
import Synchronization

/// The in-memory index of the `dedup` table by (site, event id): for each
/// remembered id, its latest arrival. The table is ordered by arrival, so
/// that writing it is an append; this index answers "was this id seen, and
/// when" without a B-tree search per beacon.
///
/// It is derived from the store and nothing else: built from the table when
/// the graph opens writable, and kept equal to it transaction by transaction.
/// The writer records each id it remembers as it goes (`judge`), with an
/// undo entry; `commitRemembered` drops the undo entries once the write
/// transaction has committed, and `rollBack` restores the committed state
/// when it aborted or is about to be retried (LMDB reruns a transaction after
/// growing the map). Entries leave the index only after the transaction that
/// deleted them has committed (`forget`). So the writer's verdicts remain a
/// function of the store (DESIGN.md "Determinism"); `GraphVerifier` checks
/// the index against the table.
///
/// Cost: a 24-byte slot of `DedupTable`, at most half to five eighths full, so 38–96 bytes
/// of memory per remembered id, and a scan of the table at open (README
/// "Exactly once").
final class DedupMemory: Sendable {
    private struct State {
        var arrivals = DedupTable()
        /// Ids remembered by the open write transaction, with what they held before.
        var undo: [(id: DedupID, before: Int64?)] = []
    }

    private let state: Mutex<State>

    /// Reads the whole `dedup` table.
    init(_ environment: Environment, table: Table) throws {
        let arrivals = DedupTable()
        try environment.read { txn in
            // In arrival order: a later entry of the same id is the newer one.
            try txn.scan(table, from: StoreKeys.dedupKeyPrefix) { key, value in
                guard StoreKeys.isDedupKey(key) else { return false }
                let (arrivalMs, firstSeq) = StoreKeys.decodeDedupKey(key)
                StoreKeys.forEachDedupRecord(value, firstSeq: firstSeq) { id, _ in arrivals.set(id, arrivalMs) }
                return true
            }
        }
        state = Mutex(State(arrivals: arrivals))
    }

    /// An empty index, for a graph opened read-only (it never writes).
    init() {
        state = Mutex(State())
    }

    /// The latest arrival of `id`, if it is remembered (the open write
    /// transaction's own ids included, for the writer that opened it).
    func arrival(of id: DedupID) -> Int64? {
        state.withLock { $0.arrivals.arrival(of: id) }
    }

    /// Judges `id` arriving at `arrivalMs` in one probe: if it is remembered
    /// at or after `horizonMs`, a repeat (returns that arrival and changes
    /// nothing); else the open write transaction remembers it now (returns
    /// the expired arrival it replaces, or nil).
    func judge(_ id: DedupID, arrivalMs: Int64, horizonMs: Int64) -> (repeated: Bool, earlierMs: Int64?) {
        state.withLock { state in
            var repeated = false
            let before = state.arrivals.update(id) { earlier in
                if let earlier, earlier >= horizonMs {
                    repeated = true
                    return nil
                }
                return arrivalMs
            }
            if !repeated { state.undo.append((id, before)) }
            return (repeated, before)
        }
    }

    /// The write transaction that remembered ids has committed.
    func commitRemembered() {
        state.withLock { $0.undo.removeAll(keepingCapacity: true) }
    }

    /// The write transaction that remembered ids did not commit: back to
    /// what the store holds.
    func rollBack() {
        state.withLock { state in
            for (id, before) in state.undo.reversed() {
                if let before {
                    state.arrivals.set(id, before)
                } else {
                    state.arrivals.remove(id, ifArrival: state.arrivals.arrival(of: id) ?? .min)
                }
            }
            state.undo.removeAll(keepingCapacity: true)
        }
    }

    /// A committed transaction deleted these entries from the table. An id
    /// remembered again since (a newer arrival) stays.
    func forget(_ removed: [(id: DedupID, arrivalMs: Int64)]) {
        guard !removed.isEmpty else { return }
        state.withLock { state in
            for (id, arrivalMs) in removed { state.arrivals.remove(id, ifArrival: arrivalMs) }
        }
    }

    /// Every remembered id with its arrival (for the verifier).
    func snapshot() -> [DedupID: Int64] {
        state.withLock { state in
            var copy: [DedupID: Int64] = [:]
            state.arrivals.forEach { copy[$0] = $1 }
            return copy
        }
    }

    var count: Int { state.withLock { $0.arrivals.count } }
}
