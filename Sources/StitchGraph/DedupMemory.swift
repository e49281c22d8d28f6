import StitchStore
import Synchronization

/// The in-memory index of the `dedup` table by (site, event id): for each
/// remembered id, its latest arrival. The table is ordered by arrival, so
/// that writing it is an append; this index answers "was this id seen, and
/// when" without a random B-tree descent per beacon.
///
/// It is derived from the store and nothing else: built from the table when
/// the graph opens writable, and changed only by `commit` after a write
/// transaction that changed the table has committed (an aborted or retried
/// transaction leaves it as it was). So the writer's verdicts remain a
/// function of the store (DESIGN.md "Determinism"), and `GraphVerifier`
/// checks it against the table.
///
/// Cost: 20 bytes a slot of `DedupTable`, at most 11/16 full, so 29–58
/// bytes of memory per remembered id, and a scan of the table at open
/// (README "Exactly once" has both measured).
final class DedupMemory: Sendable {
    private let arrivals: Mutex<DedupTable>

    /// Reads the whole `dedup` table.
    init(_ environment: Environment, table: Table) throws {
        var arrivals = DedupTable()
        try environment.read { txn in
            // In arrival order: a later entry of the same id is the newer one.
            try txn.scan(table, from: StoreKeys.dedupKeyPrefix) { key, _ in
                guard StoreKeys.isDedupKey(key) else { return false }
                let (arrivalMs, id) = StoreKeys.decodeDedupKey(key)
                arrivals.set(id, arrivalMs)
                return true
            }
        }
        self.arrivals = Mutex(arrivals)
    }

    /// An empty index, for a graph opened read-only (it never writes).
    init() {
        arrivals = Mutex(DedupTable())
    }

    /// The latest committed arrival of `id`, if it is remembered.
    func arrival(of id: DedupID) -> Int64? {
        arrivals.withLock { $0.arrival(of: id) }
    }

    /// Records a committed transaction: `added` ids were remembered with
    /// these arrivals; `removed` entries left the table. An id both
    /// re-remembered and pruned of its older arrival keeps the newer one.
    func commit(added: [(id: DedupID, arrivalMs: Int64)], removed: [(id: DedupID, arrivalMs: Int64)]) {
        guard !added.isEmpty || !removed.isEmpty else { return }
        arrivals.withLock { arrivals in
            for (id, arrivalMs) in added { arrivals.set(id, arrivalMs) }
            for (id, arrivalMs) in removed { arrivals.remove(id, ifArrival: arrivalMs) }
        }
    }

    /// Every remembered id with its arrival (for the verifier).
    func snapshot() -> [DedupID: Int64] {
        arrivals.withLock { table in
            var copy: [DedupID: Int64] = [:]
            table.forEach { copy[$0] = $1 }
            return copy
        }
    }

    var count: Int { arrivals.withLock { $0.count } }
}
