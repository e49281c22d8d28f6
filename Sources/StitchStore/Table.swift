import CLMDB

/// A named LMDB database ("table"), opened once when the environment opens.
/// The handle is a number valid for the environment's lifetime.
public struct Table: Hashable, Sendable {
    /// The name it was opened under.
    public let name: String
    let dbi: MDB_dbi

    init(name: String, dbi: MDB_dbi) {
        self.name = name
        self.dbi = dbi
    }
}
