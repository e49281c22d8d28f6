import StitchStore

extension IdentityGraph {
    /// Stored events in seq order, after `seq` (0 for the first), at most
    /// `limit`: each as accepted, with its identifiers normalized (no call
    /// matches: an export is what was received, not what the graph made of it). One read
    /// transaction per page, so an export runs beside a writer.
    public func events(after seq: UInt64, limit: Int) throws -> [EventRecord] {
        try environment.read { txn in
            var events: [EventRecord] = []
            try txn.scan(tables.log, from: StoreKeys.logKey(seq &+ 1)) { key, value in
                guard events.count < limit else { return false }
                events.append(StoredEvent.decode(value, seq: ByteCoding.bigEndian(key, at: 0, as: UInt64.self)))
                return true
            }
            return events
        }
    }

    /// Persons whose id (their root node) is after `personID`, in id order, at
    /// most `limit`, with every identifier; optionally of one site only.
    public func persons(after personID: UInt64, limit: Int, site: UInt32? = nil) throws -> [Person] {
        try environment.read { txn in
            var roots: [UInt64] = []
            try txn.scan(tables.node, from: StoreKeys.nodeKey(personID &+ 1)) { key, value in
                guard roots.count < limit else { return false }
                let id = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                let record = NodeRecord(copying: value)
                if record.parent == id && (site == nil || record.site == site) { roots.append(id) }
                return true
            }
            return try roots.map { try person(root: $0, includeIdentifiers: true, txn) }
        }
    }
}
