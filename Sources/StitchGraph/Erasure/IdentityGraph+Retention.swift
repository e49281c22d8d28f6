import StitchIdentity
import StitchStore

/// Retention (`retention_days` per site): persons with no activity for
/// their site's period are erased by a housekeeping pass in the server
/// (`RetentionPass`), which finds them with `inactivePersons` a slice of the
/// `node` table at a time and erases each with `expire`, one person per
/// write transaction, so the work of one commit stays bounded.
extension IdentityGraph {
    /// Where a scan for inactive persons stopped, and what it found.
    public struct InactiveScan: Sendable, Equatable {
        /// A person (root) of a site with a period, inactive before `cutoffMs`, its site's cutoff.
        public struct Person: Sendable, Equatable {
            public var site: UInt32
            public var personID: UInt64
            public var cutoffMs: Int64
        }

        public var persons: [Person]
        /// The node id to go on from; nil when the scan reached the table's end.
        public var next: UInt64?
        /// Node records read (table entries and ring members).
        public var nodesRead: Int
    }

    /// Erases person `personID` of `site` as `forget` does, but without
    /// listing its identifiers in the suppression list, if it has had no
    /// activity since `inactiveBeforeMs`: the retention pass
    /// (`retention_days`). Activity is the latest event time stored under
    /// any of the person's identifiers (`NodeRecord.lastSeenMs`): re-imported
    /// old events do not make a person active. The change feed says
    /// `erase` with reason `retention`; the erasure record's hash is that of
    /// the person's root identifier.
    ///
    /// - Returns: the erasure record, or nil if the person is gone (erased,
    ///   or an id of another site) or active since `inactiveBeforeMs`, which
    ///   makes a repeat a no-op.
    /// `nowMs` is the caller's clock, never read here: replicas applying the
    /// same log entry erase with the entry's time.
    public func expire(site: UInt32, personID: UInt64, inactiveBeforeMs: Int64, nowMs: Int64) throws -> ErasureRecord? {
        try erasePerson(
            site: site, reason: .retention, suppress: false, requestedHash: nil, nowMs: nowMs,
            find: { txn in
                guard let stored = try txn.get(tables.node, StoreKeys.nodeKey(personID)) else { return nil }
                let record = NodeRecord(copying: stored)
                return record.isErased || record.site != site ? nil : personID
            },
            accept: { members in members.values.allSatisfy { $0.lastSeenMs < inactiveBeforeMs } })
    }

    /// Scans the `node` table from node `position` for persons whose every
    /// identifier was last seen before `cutoffMs(site)` (nil: the site keeps
    /// everything), reading about `nodesMax` records and listing at most
    /// `personsMax`. A person is judged at its root; its ring is walked only
    /// when the root itself is old, and stops at the first recent member.
    public func inactivePersons(
        from position: UInt64, nodesMax: Int, personsMax: Int, cutoffMs: (UInt32) -> Int64?
    ) throws -> InactiveScan {
        try environment.read { txn in
            var scan = InactiveScan(persons: [], next: nil, nodesRead: 0)
            var roots: [(site: UInt32, id: UInt64, cutoff: Int64)] = []
            try txn.scan(tables.node, from: StoreKeys.nodeKey(position)) { key, value in
                let id = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                guard scan.nodesRead < nodesMax, roots.count < personsMax else {
                    scan.next = id
                    return false
                }
                scan.nodesRead += 1
                // Stored last-seen times may lag the write-behind's events by
                // seconds: a person listed here that is active after all is
                // kept by `expire`, which judges it on the drained store.
                let record = NodeRecord(copying: value)
                guard record.parent == id, !record.isErased, let cutoff = cutoffMs(record.site), record.lastSeenMs < cutoff
                else { return true }
                roots.append((record.site, id, cutoff))
                return true
            }
            for root in roots {
                var current = root.id
                var inactive = true
                var walked = 0
                repeat {
                    let record = try nodeRecord(current, txn)
                    scan.nodesRead += 1
                    walked += 1
                    // Too large to erase in one transaction (`expire` would refuse it).
                    if record.lastSeenMs >= root.cutoff || walked > GraphLimits.repairIdentifiersMax {
                        inactive = false
                        break
                    }
                    current = record.next
                } while current != root.id
                if inactive { scan.persons.append(InactiveScan.Person(site: root.site, personID: root.id, cutoffMs: root.cutoff)) }
            }
            return scan
        }
    }
}
