import CLMDB

/// A position in a table, lent by `Transaction.withCursor`. Each move returns
/// the entry it lands on, or `nil` past either end; the bytes are valid until
/// the next move or the end of the transaction.
public struct Cursor: ~Copyable {
    let cursor: OpaquePointer
    let table: Table

    /// A key and its value, pointing into the map.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    /// The first entry whose key is at least `key`.
    public mutating func seek(atLeast key: UnsafeRawBufferPointer) throws(StoreError) -> Entry? {
        try move(MDB_SET_RANGE, key: key)
    }

    /// The first entry whose key is at least `key`.
    public mutating func seek(atLeast key: [UInt8]) throws(StoreError) -> Entry? {
        try key.span.withUnsafeBytes { (raw) throws(StoreError) in try seek(atLeast: raw) }
    }

    /// The entry with the smallest key.
    public mutating func first() throws(StoreError) -> Entry? { try move(MDB_FIRST, key: nil) }
    /// The entry with the largest key.
    public mutating func last() throws(StoreError) -> Entry? { try move(MDB_LAST, key: nil) }
    /// The entry after the current one.
    public mutating func next() throws(StoreError) -> Entry? { try move(MDB_NEXT, key: nil) }
    /// The entry before the current one.
    public mutating func previous() throws(StoreError) -> Entry? { try move(MDB_PREV, key: nil) }

    /// Stores `value` under `key`, replacing any value there, and leaves the
    /// cursor on it (`mdb_cursor_put`).
    ///
    /// For keys in ascending order: LMDB first checks whether the key falls
    /// within the leaf the cursor is on and then searches that leaf alone
    /// (`mdb_cursor_set`'s shortcut), where `Transaction.put` opens a cursor
    /// and descends from the root each time. A sorted run of keys thus costs
    /// one descent per leaf instead of one per key; on a store larger than the
    /// CPU caches each descent is a handful of cache misses.
    ///
    /// - Parameter append: the key sorts after every key in the table (see
    ///   `Transaction.put`).
    public mutating func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, append: Bool = false) throws(StoreError) {
        var keyVal = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var valueVal = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(
            mdb_cursor_put(cursor, &keyVal, &valueVal, append ? UInt32(MDB_APPEND) : 0),
            "mdb_cursor_put(\(table.name))"
        )
    }

    /// Stores `value` under `key`; see `put(_:_:append:)`.
    public mutating func put(_ key: [UInt8], _ value: [UInt8], append: Bool = false) throws(StoreError) {
        try key.span.withUnsafeBytes { (rawKey) throws(StoreError) in
            try value.span.withUnsafeBytes { (rawValue) throws(StoreError) in
                try put(rawKey, rawValue, append: append)
            }
        }
    }

    /// Deletes the entry the cursor is on (`mdb_cursor_del`); the cursor
    /// then stands on the entry after it, which `next()` would skip, so read
    /// it with `seek` or `first()`.
    public mutating func deleteCurrent() throws(StoreError) {
        try check(mdb_cursor_del(cursor, 0), "mdb_cursor_del(\(table.name))")
    }

    private mutating func move(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer?) throws(StoreError) -> Entry? {
        var keyVal = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var value = MDB_val()
        let status = mdb_cursor_get(cursor, &keyVal, &value, op)
        if status == MDB_NOTFOUND { return nil }
        try check(status, "mdb_cursor_get(\(table.name))")
        return (
            UnsafeRawBufferPointer(start: keyVal.mv_data, count: keyVal.mv_size),
            UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
        )
    }
}
