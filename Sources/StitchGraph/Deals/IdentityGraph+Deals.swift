import StitchIdentity
import StitchStore

/// The deal directory (`StoreKeys.deal`): the contact each deal was last
/// seen with, so a later event of the deal that names no contact (amoCRM's
/// status change) reaches the same person. Written by the writer in the
/// batch's transaction, read by the event loops while they prepare beacons,
/// emptied of a contact's deals when its person is erased.
extension IdentityGraph: DealDirectory {
    public func dealContact(site: UInt32, dealKey: String) -> NormalizedIdentifier? {
        let key = StoreKeys.dealKey(site: site, dealKey: dealKey.utf8)
        guard key.count <= GraphLimits.keyBytesMax else { return nil }
        // A failed read is a deal not found: the beacon is then refused
        // NO_IDENTIFIERS and may be sent again.
        return try? environment.read { txn in
            try txn.get(tables.deal, key).map { NormalizedIdentifier(uncheckedKind: .crmContact, value: String(decoding: $0, as: UTF8.self)) }
        }
    }

    /// Removes every deal entry that names `contact` (an erased identifier).
    func forgetDeals(site: UInt32, contact: some Collection<UInt8>, _ txn: borrowing Transaction) throws {
        let prefix = StoreKeys.dealContactPrefix(site: site, contact: contact)
        var doomed: [[UInt8]] = []
        try txn.scan(tables.deal, from: prefix) { key, _ in
            guard key.count >= prefix.count, key.prefix(prefix.count).elementsEqual(prefix) else { return false }
            doomed.append(Array(key))
            return true
        }
        for reverse in doomed {
            _ = try txn.delete(tables.deal, reverse)
            _ = try txn.delete(tables.deal, StoreKeys.dealKey(site: site, dealKey: reverse[prefix.count...]))
        }
    }
}

extension ShardedGraph: DealDirectory {
    public func dealContact(site: UInt32, dealKey: String) -> NormalizedIdentifier? {
        graph(site: site).dealContact(site: site, dealKey: dealKey)
    }
}

extension BatchWriter {
    /// Remembers that deal `dealKey` of `site` was seen with `contact`; a
    /// deal moved to another contact forgets the old one.
    mutating func rememberDeal(site: UInt32, dealKey: String, contact: String, _ txn: borrowing Transaction) throws {
        let key = StoreKeys.dealKey(site: site, dealKey: dealKey.utf8)
        let reverse = StoreKeys.dealContactKey(site: site, contact: contact.utf8, dealKey: dealKey.utf8)
        guard max(key.count, reverse.count) <= GraphLimits.keyBytesMax else { return }
        if let known = try txn.get(graph.tables.deal, key) {
            if known.elementsEqual(contact.utf8) { return }
            _ = try txn.delete(graph.tables.deal, StoreKeys.dealContactKey(site: site, contact: known, dealKey: dealKey.utf8))
        }
        try txn.put(graph.tables.deal, key, Array(contact.utf8))
        try txn.put(graph.tables.deal, reverse, [])
    }
}
