/// How an `Environment` is opened.
public struct StoreOptions: Hashable, Sendable {
    /// When a commit is durable.
    public enum Durability: String, Hashable, Sendable, CaseIterable {
        /// Every commit is flushed to disk (fdatasync) before it returns.
        case sync
        /// Commits reach the OS page cache only, and the store is
        /// checkpointed (`Environment.checkpoint()`; the server does it every
        /// `sync_interval_ms`). A crash of the process loses nothing. A crash
        /// of the machine returns the store to its last checkpoint: the
        /// commits after it are lost, and nothing else (see `Checkpoint`).
        case nosync
        /// As `nosync` for the store, plus each group of beacons is appended
        /// to its shard's `GroupLog` and flushed there (one sequential write)
        /// before it is acknowledged. A crash of the machine returns the store
        /// to its last checkpoint and the server replays the log after it, so
        /// an acknowledged beacon is never lost. The environment itself treats
        /// it as `nosync`: the log belongs to the server.
        case log
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
    /// The file holding this boot's identifier, which tells a restart of the
    /// process (the page cache survived: nothing to restore) from a restart
    /// of the machine (restore the last checkpoint). Tests point it at a
    /// file of their own to play a reboot.
    public var bootIdentifierPath: String

    /// Whether commits reach the page cache only, so the store keeps
    /// checkpoints to survive a machine crash.
    public var checkpoints: Bool { durability != .sync }

    public init(
        mapBytes: Int = 1 << 30,
        mapBytesMax: Int = 1 << 40,
        growthFreeFractionMin: Double = 0.1,
        durability: Durability = .sync,
        readOnly: Bool = false,
        readersMax: Int = 256,
        bootIdentifierPath: String = "/proc/sys/kernel/random/boot_id"
    ) {
        self.mapBytes = mapBytes
        self.mapBytesMax = mapBytesMax
        self.growthFreeFractionMin = growthFreeFractionMin
        self.durability = durability
        self.readOnly = readOnly
        self.readersMax = readersMax
        self.bootIdentifierPath = bootIdentifierPath
    }
}
