import Crypto
import StitchStore

extension IdentityGraph {
    /// Meta entries that may differ between replicas holding the same
    /// content: how far each applied the log (a replica's own progress) and
    /// the store's schema version record. Everything else must be equal.
    static let digestSkippedMetaKeys: Set<[UInt8]> = [logSequenceKey]

    /// SHA-256 of every table's every key and value, in table and key order:
    /// two replicas that applied the same log end with the same digest
    /// (`stitch verify --digest`; the cluster's determinism tests). The
    /// replica's own log position is left out.
    public func contentDigest() throws -> String {
        try environment.read { txn in
            var hasher = SHA256()
            for name in StoreKeys.allTables {
                let table = environment.table(name)
                hasher.update(data: Array(name.utf8) + [0])
                try txn.scan(table) { entry in
                    if name == StoreKeys.meta, Self.digestSkippedMetaKeys.contains(Array(entry.key)) { return true }
                    var length = UInt32(entry.key.count).bigEndian
                    withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
                    hasher.update(bufferPointer: entry.key)
                    length = UInt32(entry.value.count).bigEndian
                    withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
                    hasher.update(bufferPointer: entry.value)
                    return true
                }
            }
            return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}
