/// The size of one table: what `Transaction.statistics` reads from LMDB.
public struct TableStatistics: Sendable, Equatable {
    public var entries: Int
    /// B-tree depth (0 for an empty table).
    public var depth: Int
    /// Branch, leaf and overflow pages.
    public var pages: Int
    public var pageBytes: Int

    /// Bytes of the file the table's pages take.
    public var bytes: Int { pages * pageBytes }

    public init(entries: Int, depth: Int, pages: Int, pageBytes: Int) {
        self.entries = entries
        self.depth = depth
        self.pages = pages
        self.pageBytes = pageBytes
    }
}
