import StitchIdentity
import StitchStore

/// What re-judging the automatic quarantines did (issue 30): identifiers the
/// shared-identifier rule quarantined before it counted only distinguishable
/// persons, released where the rule as it is now would not have tripped.
public struct HubRejudging: Sendable, Equatable {
    /// Automatic quarantines looked at.
    public var judged = 0
    /// Released: each one's events link it again (merge records of reason
    /// `UNQUARANTINE` in the change feed), and the rule watches it afresh.
    public var released: [RepairResult] = []
}

extension IdentityGraph {
    /// Set in `meta` by the schema 8 → 9 step: the automatic quarantines were
    /// made by the earlier rule and wait to be re-judged at the first
    /// writable open.
    static let hubRejudgePendingKey = Array("hub-rejudge-pending".utf8)

    /// Re-judges every automatic quarantine, if a migration asked for it:
    /// each in its own write transaction, the pending mark removed with the
    /// last, so a crash part-way re-judges the rest at the next open (a
    /// re-judged identifier that stays quarantined is judged the same again).
    func rejudgeHubsIfPending() throws -> HubRejudging? {
        let pending = try environment.read { txn in try txn.get(tables.meta, Self.hubRejudgePendingKey) != nil }
        guard pending else { return nil }
        let automatic: [(node: UInt64, site: UInt32)] = try environment.read { txn in
            var found: [(UInt64, UInt32)] = []
            try txn.scan(tables.quarantine) { key, value in
                guard QuarantineRecord(decoding: value).source == .automatic else { return true }
                let node = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                found.append((node, try nodeRecord(node, txn).site))
                return true
            }
            return found
        }
        var outcome = HubRejudging()
        for (node, site) in automatic {
            let rule = configuration.rules(for: site).hub
            guard rule.isOn else { continue }  // the rule is off for the site: an operator's call
            outcome.judged += 1
            let result: RepairResult? = try writeDraining { txn in
                guard try distinguishablePersons(joinedBy: node, txn) < rule.linksMax + 2 else { return nil }
                return try release(node: node, site: site, watchedAfter: true, txn)
            }
            if let result { outcome.released.append(result) }
        }
        try environment.write { txn in _ = try txn.delete(tables.meta, Self.hubRejudgePendingKey) }
        return outcome
    }

    /// The most persons of one personal kind among those a quarantined
    /// identifier's events name: the persons it would join, each holding a
    /// phone (or an e-mail, a login, a CRM contact) of its own. The rule
    /// trips at `linksMax + 2` of them — the first one and `linksMax + 1`
    /// links — so fewer means it would not have. The period is not applied:
    /// a re-judged quarantine errs towards staying.
    func distinguishablePersons(joinedBy node: UInt64, _ txn: borrowing Transaction) throws -> Int {
        let site = try nodeRecord(node, txn).site
        var persons: Set<UInt64> = []
        var scanned = 0
        try forEachSeq(in: tables.quarantineEvent, under: node, txn) { seq in
            guard scanned < GraphLimits.repairEventsMax else { return false }
            scanned += 1
            guard let stored = try txn.get(tables.log, StoreKeys.logKey(seq)) else { return true }  // erased since
            for identifier in StoredEvent.decode(stored, seq: seq).identifiers {
                guard let other = try identNode(site: site, identifier: identifier, txn), other != node,
                    try !nodeRecord(other, txn).isQuarantined
                else { continue }
                persons.insert(try root(of: other, txn))
            }
            return true
        }
        var byKind: [IdentifierKind: Int] = [:]
        for person in persons {
            let record = try nodeRecord(person, txn)
            for kind in IdentifierKind.allCases where kind.isPersonal && record.kindCount(kind) > 0 { byKind[kind, default: 0] += 1 }
        }
        return byKind.values.max() ?? 0
    }
}
