/// How an `Environment` is opened.
public struct StoreOptions: Hashable, Sendable {
    /// When a commit is durable.
    public enum Durability: String, Hashable, Sendable, CaseIterable {
        /// Every commit is flushed to disk (fdatasync) before it returns.
        case sync
        /// Commits reach the OS page cache only; `Environment.sync()` flushes
        /// them (the server calls it periodically). A crash of the process
        /// loses nothing. A crash of the machine loses the unflushed commits,
        /// and can leave the store unreadable: the kernel writes dirty pages
        /// back in no particular order, so a newer meta page may reach the
        /// disk before the pages it points to, after other new pages have
        /// overwritten pages the older meta points to (LMDB's documented
        /// risk of `MDB_NOSYNC`; `PinnedSnapshotTests`
        /// shows such a store, and the remedy a checkpoint would use). The
        /// server syncs an operator's changes (quarantine, forget, a pool)
        /// before answering them (`Environment.makeDurable`).
        case nosync
    }

    /// Initial size of the memory map in bytes. The file grows into it as data
    /// is written (the map is only address space), and the map itself grows
    /// when it fills (`growthFactor`), so this is a starting point, not a cap.
    public var mapBytes: Int
    /// Upper bound for map growth; a write that would need more fails with
    /// `StoreError.Code.mapFull`.
    public var mapBytesMax: Int
    /// The map grows when a write transaction starts with less than this
    /// fraction of it free, and when a write hits MDB_MAP_FULL.
    public var growthFreeFractionMin: Double
    /// Whether commits are flushed to disk before they return.
    public var durability: Durability
    /// Open read-only (for `stitch verify` and tools beside a running server).
    public var readOnly: Bool
    /// Most concurrent read transactions (LMDB's reader table size).
    public var readersMax: Int

    public init(
        mapBytes: Int = 1 << 30,
        mapBytesMax: Int = 1 << 40,
        growthFreeFractionMin: Double = 0.1,
        durability: Durability = .sync,
        readOnly: Bool = false,
        readersMax: Int = 256
    ) {
        self.mapBytes = mapBytes
        self.mapBytesMax = mapBytesMax
        self.growthFreeFractionMin = growthFreeFractionMin
        self.durability = durability
        self.readOnly = readOnly
        self.readersMax = readersMax
    }
}
