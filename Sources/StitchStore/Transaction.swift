import CLMDB

/// One LMDB transaction, lent to an `Environment.read` or `Environment.write`
/// closure. It is non-copyable and only ever borrowed, so it cannot escape
/// the closure that owns it.
///
/// Byte buffers it returns point into the memory map and are valid until the
/// transaction ends (or, in a write transaction, until the next write):
/// decode or copy them at once.
public struct Transaction: ~Copyable {
    let txn: OpaquePointer
    /// Whether this is a read transaction.
    public let isReadOnly: Bool

    init(txn: OpaquePointer, readOnly: Bool) {
        self.txn = txn
        self.isReadOnly = readOnly
    }

    /// The value stored under `key`, or `nil`.
    public func get(_ table: Table, _ key: UnsafeRawBufferPointer) throws(StoreError) -> UnsafeRawBufferPointer? {
        var keyVal = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var value = MDB_val()
        let status = mdb_get(txn, table.dbi, &keyVal, &value)
        if status == MDB_NOTFOUND { return nil }
        try check(status, "mdb_get(\(table.name))")
        return UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
    }

    /// Stores `value` under `key`, replacing any value there.
    ///
    /// - Parameter append: the key sorts after every key in the table (a
    ///   sequential id); LMDB then skips the search and fills pages fully.
    public func put(
        _ table: Table,
        _ key: UnsafeRawBufferPointer,
        _ value: UnsafeRawBufferPointer,
        append: Bool = false
    ) throws(StoreError) {
        var keyVal = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var valueVal = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(
            mdb_put(txn, table.dbi, &keyVal, &valueVal, append ? UInt32(MDB_APPEND) : 0),
            "mdb_put(\(table.name))"
        )
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ table: Table, _ key: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        var keyVal = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let status = mdb_del(txn, table.dbi, &keyVal, nil)
        if status == MDB_NOTFOUND { return false }
        try check(status, "mdb_del(\(table.name))")
        return true
    }

    /// Number of entries in `table`.
    public func count(_ table: Table) throws(StoreError) -> Int {
        try statistics(table).entries
    }

    /// Entries and pages of `table` (LMDB's `mdb_stat`).
    public func statistics(_ table: Table) throws(StoreError) -> TableStatistics {
        var stat = MDB_stat()
        try check(mdb_stat(txn, table.dbi, &stat), "mdb_stat(\(table.name))")
        return TableStatistics(
            entries: stat.ms_entries, depth: Int(stat.ms_depth),
            pages: stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages, pageBytes: Int(stat.ms_psize))
    }

    /// Runs `body` with a cursor over `table`, closed when `body` returns.
    public func withCursor<R>(_ table: Table, _ body: (inout Cursor) throws -> R) throws -> R {
        var handle: OpaquePointer?
        try check(mdb_cursor_open(txn, table.dbi, &handle), "mdb_cursor_open(\(table.name))")
        var cursor = Cursor(cursor: handle!, table: table)
        defer { mdb_cursor_close(handle) }
        return try body(&cursor)
    }

    /// Visits `table`'s entries in key order, from the first key at least
    /// `start` (the first entry when `nil`), until `body` returns `false` or
    /// the table ends. An entry's bytes are valid only during its call.
    ///
    /// The one forward loop over a cursor: callers say where to start and
    /// when to stop, never how to step.
    public func scan(_ table: Table, from start: [UInt8]? = nil, _ body: (Cursor.Entry) throws -> Bool) throws {
        try withCursor(table) { cursor in
            var entry: Cursor.Entry?
            if let start { entry = try cursor.seek(atLeast: start) } else { entry = try cursor.first() }
            while let current = entry, try body(current) { entry = try cursor.next() }
        }
    }
}

// MARK: - Convenience for byte arrays

extension Transaction {
    /// The value stored under `key`, or `nil`.
    public func get(_ table: Table, _ key: [UInt8]) throws(StoreError) -> UnsafeRawBufferPointer? {
        try key.span.withUnsafeBytes { (raw) throws(StoreError) in try get(table, raw) }
    }

    /// Stores `value` under `key`; see `put(_:_:_:append:)` for `append`.
    public func put(_ table: Table, _ key: [UInt8], _ value: [UInt8], append: Bool = false) throws(StoreError) {
        try key.span.withUnsafeBytes { (rawKey) throws(StoreError) in
            try value.span.withUnsafeBytes { (rawValue) throws(StoreError) in
                try put(table, rawKey, rawValue, append: append)
            }
        }
    }

    @discardableResult
    /// Removes `key`; returns whether it was there.
    public func delete(_ table: Table, _ key: [UInt8]) throws(StoreError) -> Bool {
        try key.span.withUnsafeBytes { (raw) throws(StoreError) in try delete(table, raw) }
    }
}
