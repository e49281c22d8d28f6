/// What one write transaction's commit cost the store: the pages LMDB wrote
/// and the time it spent inside `mdb_txn_commit` writing and syncing them.
/// Apart from it, a transaction's time is the caller's own work (the graph's
/// reads and B-tree changes); the two tell a CPU-bound writer from a disk-bound one.
public struct CommitCost: Sendable, Equatable {
    /// Pages (of the environment's page size) written to the data file; 0
    /// where the kernel does not tell. LMDB writes each dirty page once.
    public var pagesWritten = 0
    /// Nanoseconds inside `mdb_txn_commit`: the page writes, the data
    /// sync and the meta page's synchronous write (no syncs in `nosync` mode).
    public var commitNanoseconds: Int64 = 0

    public init(pagesWritten: Int = 0, commitNanoseconds: Int64 = 0) {
        self.pagesWritten = pagesWritten
        self.commitNanoseconds = commitNanoseconds
    }
}
