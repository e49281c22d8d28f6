import CLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB environment: one directory, one memory map, a fixed set of named
/// tables, and closure-scoped transactions.
///
/// - Writes are serialized: `write` runs one transaction at a time, commits
///   it when its closure returns and aborts it when the closure throws.
/// - Reads (`read`) run concurrently with each other and with the writer on
///   MVCC snapshots; they never wait on a write.
/// - The map grows by itself: before a write when less than
///   `growthFreeFractionMin` of it is free, and on `MDB_MAP_FULL` (the write is
///   aborted, the map doubled and the closure run again).
///
/// No transaction outlives its closure, so none can be held across an `await`:
/// the closures are synchronous. The one exception is the checkpoint's pin
/// (`checkpoint()`), a read transaction that nothing reads through.
public final class Environment: @unchecked Sendable {
    // @unchecked: the env pointer is used under LMDB's own thread rules
    // (MDB_NOTLS read transactions, one writer at a time via `writerLock`),
    // and `mapBytes` is only changed under `mapLock`'s write side.
    private let env: OpaquePointer
    /// The environment's directory.
    public let path: String
    /// How it was opened.
    public let options: StoreOptions
    private var tables: [String: Table] = [:]
    /// Tables named at init that a read-only open did not find (a store
    /// written before a build added them); `table(_:)` has none of them.
    public private(set) var missingTables: [String] = []
    /// Held shared by transactions, exclusively to resize the map.
    private let mapLock = ReadWriteLock()
    /// Serializes writers in this process, so map growth never races a writer.
    private let writerLock = ReadWriteLock()
    /// Counts checkpoints taken (`checkpointCount`).
    private let checkpoints = Atomic<Int>(0)
    /// Serializes checkpoints; holds the read transaction pinning the last
    /// checkpoint's snapshot (nil when the store keeps no checkpoints).
    private let checkpointPin = Mutex<PinnedSnapshot?>(nil)
    /// The transaction id of the checkpoint this open restored, when the
    /// machine had restarted since it was taken; nil otherwise.
    public let restoredCheckpoint: UInt64?
    /// Current size of the memory map.
    public private(set) var mapBytes: Int
    /// Readers left behind by dead processes that `mdb_reader_check` cleared at open.
    public let staleReadersCleared: Int
    /// LMDB's page size (the OS page size, 4 KiB here).
    public private(set) var pageBytes = 4096
    private var closed = false

    /// Opens (creating it unless read-only) the environment in directory `path`
    /// with the given tables (created if missing, unless read-only).
    public init(path: String, tables tableNames: [String], options: StoreOptions = StoreOptions()) throws(StoreError) {
        self.path = path
        self.options = options
        if !options.readOnly {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
                throw StoreError(.system(errno), operation: "mkdir(\(path))")
            }
        }
        restoredCheckpoint = try Self.restoreCheckpointAfterReboot(path: path, options: options)
        var handle: OpaquePointer?
        try check(mdb_env_create(&handle), "mdb_env_create")
        env = handle!
        var dead: Int32 = 0
        do {
            try check(mdb_env_set_maxdbs(env, MDB_dbi(tableNames.count + 2)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, UInt32(options.readersMax)), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, options.mapBytes), "mdb_env_set_mapsize")
            // MDB_NOTLS: read transactions belong to the transaction, not the
            // thread, as Swift code may resume on any thread.
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.checkpoints { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open(\(path))")
            try check(mdb_reader_check(env, &dead), "mdb_reader_check")
        } catch {
            // Not initialized yet, so no deinit: the handle is closed here.
            mdb_env_close(env)
            throw error
        }
        staleReadersCleared = Int(dead)
        mapBytes = 0
        // Initialized from here: a throw runs deinit, which closes the handle (once).
        let opened = infoHoldingMap()
        mapBytes = opened.mapBytes
        pageBytes = opened.pageBytes
        try openTables(tableNames)
        if !options.readOnly {
            // A checkpoint of this open's own, at once: the old one's pin died
            // with its process, so a later commit could write over its pages.
            if options.checkpoints { try checkpoint() } else { try Checkpoint.remove(directory: path) }
        }
    }

    deinit {
        close()
    }

    /// Flushes and closes the environment. Idempotent; the environment is
    /// unusable afterwards. Callers must have no transaction running.
    ///
    /// The final flush leaves the file current, so a store that keeps
    /// checkpoints drops its checkpoint: a reboot before the next open must
    /// not take it back to an older one.
    public func close() {
        checkpointPin.withLock { pin in
            writerLock.withWriteLock {
                mapLock.withWriteLock {
                    guard !closed else { return }
                    closed = true
                    let flushed = options.readOnly || mdb_env_sync(env, 1) == 0
                    if let pinned = pin.take() { mdb_txn_abort(pinned.transaction) }
                    mdb_env_close(env)
                    if flushed && options.checkpoints && !options.readOnly { try? Checkpoint.remove(directory: path) }
                }
            }
        }
    }

    /// The table opened under `name` at init.
    public func table(_ name: String) -> Table {
        guard let table = tables[name] else { preconditionFailure("table \(name) was not opened") }
        return table
    }

    /// Frees reader slots of processes that died holding a read transaction
    /// (a SIGKILLed `stitch verify`): such a slot pins the oldest snapshot,
    /// so no freed page could be reused and the file would only grow.
    /// Returns how many were freed.
    public func clearStaleReaders() throws(StoreError) -> Int {
        var dead: Int32 = 0
        try check(mdb_reader_check(env, &dead), "mdb_reader_check")
        return Int(dead)
    }

    /// Writes a consistent copy of the environment into `directory` (which
    /// must exist and hold no store), from one read transaction, so it is
    /// safe beside a running writer. `compact` is LMDB's compacting copy
    /// (MDB_CP_COMPACT): only pages in use are written, renumbered, so pages
    /// freed by deletes — and the bytes they held — are left behind. Why no
    /// deleted byte survives inside a page still in use: the compacting walk
    /// copies a page with `mdb_page_copy`, which copies the header and node
    /// pointers and the nodes themselves but not the free gap between them
    /// (where a deleted node's bytes can linger), into a zeroed buffer that
    /// only ever receives such used portions; overflow pages hold one live
    /// value each. `RepairCLITests` searches a compact copy's bytes for every
    /// erased value.
    public func copy(to directory: String, compact: Bool) throws(StoreError) {
        try mapLock.withReadLock { () throws(StoreError) in
            try check(mdb_env_copy2(env, directory, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2(\(directory))")
        }
    }

    /// Makes every commit so far durable: nothing to do with `sync`
    /// durability (each commit was flushed before it returned), a
    /// `checkpoint()` otherwise.
    public func makeDurable() throws(StoreError) {
        if options.checkpoints { try checkpoint() }
    }

    /// How many checkpoints this environment has taken (for tests and for
    /// telling whether a change was made durable).
    public var checkpointCount: Int { checkpoints.load(ordering: .relaxed) }

    private func openTables(_ names: [String]) throws(StoreError) {
        var txn: OpaquePointer?
        let readOnly = options.readOnly
        try check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin")
        do {
            for name in names {
                var dbi: MDB_dbi = 0
                let status = mdb_dbi_open(txn, name, readOnly ? 0 : UInt32(MDB_CREATE), &dbi)
                if readOnly && status == MDB_NOTFOUND {
                    missingTables.append(name)
                    continue
                }
                try check(status, "mdb_dbi_open(\(name))")
                tables[name] = Table(name: name, dbi: dbi)
            }
            try check(mdb_txn_commit(txn), "mdb_txn_commit(open tables)")
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
    }
}

// MARK: - Transactions

extension Environment {
    /// Runs `body` in a read-only transaction on a consistent snapshot.
    ///
    /// Bytes returned by the transaction point into the map and are valid only
    /// inside `body`: copy what must outlive it.
    public func read<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try adoptingResizedMap {
            try mapLock.withReadLock { () throws -> R in
                let txn = try begin(readOnly: true)
                defer { mdb_txn_abort(txn) }
                return try body(Transaction(txn: txn, readOnly: true))
            }
        }
    }

    /// Runs `body` in the write transaction and commits it; aborts it if
    /// `body` throws.
    ///
    /// `body` may run more than once: when the map is full, the transaction is
    /// aborted, the map grown and `body` run again from the start. It must
    /// therefore change nothing outside the transaction; act on its result
    /// after `write` returns.
    public func write<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        try writeCountingPages(body).result
    }

    /// `write`, and what its commit cost: the cost of a commit grows with
    /// the distinct B-tree pages it dirtied, whatever the bytes it changed.
    public func writeCountingPages<R>(_ body: (borrowing Transaction) throws -> R) throws -> (result: R, cost: CommitCost) {
        precondition(!options.readOnly, "write on a read-only environment")
        return try writerLock.withWriteLock { () throws -> (result: R, cost: CommitCost) in
            try growIfNearlyFull()
            while true {
                do {
                    return try adoptingResizedMap {
                        try mapLock.withReadLock { () throws -> (result: R, cost: CommitCost) in try commitOnce(body) }
                    }
                } catch let error as StoreError where error.code == .mapFull {
                    try grow(toAtLeast: mapBytes * 2, because: error)
                }
            }
        }
    }

    private func commitOnce<R>(_ body: (borrowing Transaction) throws -> R) throws -> (result: R, cost: CommitCost) {
        let txn = try begin(readOnly: false)
        let result: R
        do {
            result = try body(Transaction(txn: txn, readOnly: false))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        let before = ThreadWrites.bytes()
        let start = ContinuousClock.now
        // mdb_txn_commit frees the transaction whether or not it succeeds.
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        // Whole pages: the meta record written last is smaller than one.
        let written = before.flatMap { before in ThreadWrites.bytes().map { $0 - before } } ?? 0
        return (result, CommitCost(pagesWritten: written / pageBytes, commitNanoseconds: seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }

    /// Runs `body`; if another process grew the map (MDB_MAP_RESIZED), adopts
    /// the new size while no transaction of ours is open, and runs it again.
    private func adoptingResizedMap<R>(_ body: () throws -> R) throws -> R {
        while true {
            do {
                return try body()
            } catch let error as StoreError where error.code == .mapResized {
                try mapLock.withWriteLock { () throws(StoreError) in
                    try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize(adopt)")
                    mapBytes = infoHoldingMap().mapBytes
                }
            }
        }
    }

    private func begin(readOnly: Bool) throws(StoreError) -> OpaquePointer {
        precondition(!closed, "transaction on a closed environment")
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin")
        return txn!
    }
}

// MARK: - Map size

extension Environment {
    /// Sizes of the environment, for metrics and growth decisions.
    public struct Info: Sendable {
        public var mapBytes: Int
        /// Bytes of the map in use (highest page written).
        public var usedBytes: Int
        public var pageBytes: Int
        public var readersUsed: Int
    }

    /// Current map size, bytes in use and readers. Safe from any thread:
    /// `mdb_env_info` reads the meta page inside the map, which growing the
    /// map unmaps, so it waits out a growth (a writer's metrics or a `stats`
    /// query beside another thread's commit once read an unmapped page).
    public func info() -> Info {
        mapLock.withReadLock { infoHoldingMap() }
    }

    /// `info()` for a caller that holds `mapLock` or runs before any other
    /// thread can use the environment.
    private func infoHoldingMap() -> Info {
        var envInfo = MDB_envinfo()
        mdb_env_info(env, &envInfo)
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        let pageBytes = Int(stat.ms_psize)
        return Info(
            mapBytes: envInfo.me_mapsize,
            usedBytes: (envInfo.me_last_pgno + 1) * pageBytes,
            pageBytes: pageBytes,
            readersUsed: Int(envInfo.me_numreaders)
        )
    }

    private func growIfNearlyFull() throws {
        let current = info()
        let free = Double(current.mapBytes - current.usedBytes) / Double(current.mapBytes)
        if free < options.growthFreeFractionMin {
            try grow(toAtLeast: current.mapBytes * 2, because: nil)
        }
    }

    /// Grows the map to `bytes` (rounded to pages, capped at `mapBytesMax`).
    /// Waits for running readers to finish, as LMDB requires.
    private func grow(toAtLeast bytes: Int, because error: StoreError?) throws(StoreError) {
        let target = min(options.mapBytesMax, bytes)
        guard target > mapBytes else {
            throw error ?? StoreError(.mapFull, operation: "grow map past mapBytesMax \(options.mapBytesMax)")
        }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let rounded = (target + page - 1) / page * page
        try mapLock.withWriteLock { () throws(StoreError) in
            try check(mdb_env_set_mapsize(env, rounded), "mdb_env_set_mapsize(\(rounded))")
            mapBytes = infoHoldingMap().mapBytes
        }
    }
}

// MARK: - Checkpoints

extension Environment {
    /// The read transaction that keeps a checkpoint's pages from reuse.
    struct PinnedSnapshot: @unchecked Sendable {
        // @unchecked: an MDB_NOTLS read transaction, only ever aborted.
        let transaction: OpaquePointer
        let transactionID: UInt64
    }

    /// Takes a checkpoint (`Checkpoint`): pins the latest snapshot, flushes
    /// the file, saves the snapshot's meta page, and only then lets the
    /// previous checkpoint's pages go. Returns the snapshot's transaction id.
    ///
    /// The writer waits only while the snapshot is pinned and its meta page
    /// copied (microseconds): the meta slot is stable while no commit runs.
    /// The flush itself runs beside the writer, as `mdb_env_sync` takes no
    /// LMDB lock. The pin holds no lock of ours, so map growth does not
    /// wait for it; LMDB lets the map be resized under a live read
    /// transaction, and nothing is ever read through the pin.
    @discardableResult
    public func checkpoint() throws(StoreError) -> UInt64 {
        precondition(options.checkpoints && !options.readOnly, "checkpoint on a store without checkpoints")
        let taken = try checkpointPin.withLock { (pin: inout PinnedSnapshot?) throws(StoreError) -> UInt64 in
            let (pinned, metaPage) = try writerLock.withWriteLock { () throws(StoreError) -> (PinnedSnapshot, [UInt8]) in
                try mapLock.withReadLock { () throws(StoreError) -> (PinnedSnapshot, [UInt8]) in
                    let transaction = try begin(readOnly: true)
                    let id = UInt64(mdb_txn_id(transaction))
                    do throws(StoreError) {
                        var fd: Int32 = -1
                        try check(mdb_env_get_fd(env, &fd), "mdb_env_get_fd")
                        let page = try Checkpoint.metaPage(slot: Int(id & 1), fd: fd, pageBytes: pageBytes)
                        guard Checkpoint.transactionID(ofMeta: page) == id else {
                            throw StoreError(.corrupted, operation: "checkpoint: meta slot \(id & 1) does not hold transaction \(id)")
                        }
                        return (PinnedSnapshot(transaction: transaction, transactionID: id), page)
                    } catch {
                        mdb_txn_abort(transaction)
                        throw error
                    }
                }
            }
            do throws(StoreError) {
                try mapLock.withReadLock { () throws(StoreError) in try check(mdb_env_sync(env, 1), "mdb_env_sync") }
                let boot = Checkpoint.bootIdentifier(at: options.bootIdentifierPath) ?? ""
                try Checkpoint(transactionID: pinned.transactionID, bootIdentifier: boot, metaPage: metaPage).save(directory: path)
            } catch {
                mdb_txn_abort(pinned.transaction)
                throw error
            }
            if let old = pin { mdb_txn_abort(old.transaction) }
            pin = pinned
            return pinned.transactionID
        }
        checkpoints.add(1, ordering: .relaxed)
        return taken
    }

    /// Before LMDB opens the file: if the store's checkpoint was taken in
    /// another boot, the machine went down since, and the file may hold
    /// pages of commits that never fully reached the disk; the checkpoint's
    /// snapshot is intact (pinned, flushed), so its meta page is written
    /// back into both slots. A read-only open refuses such a store instead.
    /// Returns the restored checkpoint's transaction id.
    static func restoreCheckpointAfterReboot(path: String, options: StoreOptions) throws(StoreError) -> UInt64? {
        guard let saved = try Checkpoint.saved(in: path),
            let boot = Checkpoint.bootIdentifier(at: options.bootIdentifierPath),
            saved.bootIdentifier != boot
        else { return nil }
        guard !options.readOnly else { throw StoreError(.needsRecovery, operation: "open \(path)") }
        try saved.restore(into: path + "/data.mdb")
        return saved.transactionID
    }
}
