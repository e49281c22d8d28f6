#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StitchIdentity
import StitchStore

/// What a quarantine or its release did.
public struct RepairResult: Sendable, Equatable {
    /// False when there was nothing to do (already quarantined, or not).
    public var changed: Bool
    /// The identifier's node (its own person id while quarantined).
    public var identifierNode: UInt64
    /// Persons re-derived (quarantine) or joined again (release).
    public var personsRepaired: Int
    /// The persons the repair left, the identifier's own first.
    public var personIDs: [UInt64]
    /// The change feed holds the repair up to this seq.
    public var lastChangeSeq: UInt64
}

extension IdentityGraph {
    /// Now, in ms since the epoch (CLOCK_REALTIME): the default time of
    /// requests and change records, and the server's default clock.
    public static func wallClockMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: Requests (admin, from the query server's heavy pool)

    /// Quarantines an identifier: from now on it links nothing, and the person
    /// holding it is re-derived from its events without it (one write
    /// transaction; split records in the change feed). An identifier not seen
    /// yet is created quarantined, so it never links.
    public func quarantine(
        site: UInt32, identifier: NormalizedIdentifier, source: QuarantineRecord.Source = .manual, reason: String,
        nowMs: Int64
    ) throws -> RepairResult {
        try writeDraining { txn in
            var counters = try counters(txn)
            let node = try nodeCreatingIfNeeded(site: site, identifier: identifier, nowMs: nowMs, &counters, txn)
            if try nodeRecord(node, txn).isQuarantined {
                return RepairResult(changed: false, identifierNode: node, personsRepaired: 0, personIDs: [node], lastChangeSeq: counters.changes)
            }
            let record = QuarantineRecord(source: source, sinceMs: nowMs, reason: reason)
            let changeReason: ChangeRecord.Reason = source == .junk ? .junk : .quarantine
            let outcome = try quarantine(node: node, record: record, reason: changeReason, nowMs: nowMs, &counters, txn)
            try txn.put(tables.meta, GraphCounters.key, counters.encoded())
            return RepairResult(
                changed: true, identifierNode: node, personsRepaired: 1,
                personIDs: [node] + outcome.parts.filter { $0 != node }, lastChangeSeq: counters.changes)
        }
    }

    /// Quarantines every known identifier among `identifiers` (a site's junk
    /// values, declared after they were linked) that is not quarantined yet.
    /// - Returns: the repairs done, one per identifier quarantined.
    public func quarantineJunk(site: UInt32, identifiers: [NormalizedIdentifier], nowMs: Int64) throws -> [RepairResult] {
        var done: [RepairResult] = []
        for identifier in identifiers.prefix(GraphLimits.junkRepairsMax) {
            // Only linked, not yet quarantined values: one read each, no write.
            let linked = try environment.read { txn in
                try identNode(site: site, identifier: identifier, txn).map { try !nodeRecord($0, txn).isQuarantined } ?? false
            }
            guard linked else { continue }
            let result = try quarantine(site: site, identifier: identifier, source: .junk, reason: "declared junk", nowMs: nowMs)
            if result.changed { done.append(result) }
        }
        return done
    }

    /// Lifts a quarantine: the events that carried the identifier link it
    /// again (subject to the guards), with merge records saying why. The
    /// automatic rule leaves a released identifier alone from then on.
    public func unquarantine(site: UInt32, identifier: NormalizedIdentifier, nowMs: Int64) throws -> RepairResult? {
        try writeDraining { txn in
            guard let node = try identNode(site: site, identifier: identifier, txn) else { return nil }
            return try release(node: node, site: site, watchedAfter: false, txn)
        }
    }

    /// Releases a quarantined node: its listed events link it again. An
    /// identifier an operator released is left alone by the automatic rule
    /// from then on; one the rule re-judged (`watchedAfter`) is watched again,
    /// its count started afresh.
    func release(node: UInt64, site: UInt32, watchedAfter: Bool, _ txn: borrowing Transaction) throws -> RepairResult {
        var record = try nodeRecord(node, txn)
        guard record.isQuarantined else {
            return RepairResult(changed: false, identifierNode: node, personsRepaired: 0, personIDs: [try root(of: node, txn)], lastChangeSeq: try counters(txn).changes)
        }
        record.flags.remove(.quarantined)
        if !watchedAfter { record.flags.insert(.released) }
        record.hubLinks = 0
        try txn.put(tables.node, StoreKeys.nodeKey(node), record.bytes)
        _ = try txn.delete(tables.quarantine, StoreKeys.nodeKey(node))

        var seqs: [UInt64] = []
        try forEachSeq(in: tables.quarantineEvent, under: node, txn) { seq in
            seqs.append(seq)
            return true
        }
        var writer = BatchWriter(graph: self, counters: try counters(txn))
        writer.prunesDedup = false  // DedupMemory forgets only what `apply` pruned
        writer.changeReason = .unquarantine
        writer.changeIdentifierNode = node
        let guards = configuration.rules(for: site).guards
        var joined: Set<UInt64> = []
        for seq in seqs {
            _ = try txn.delete(tables.quarantineEvent, StoreKeys.quarantineEventKey(node: node, seq: seq))
            joined.formUnion(try relink(seq: seq, site: site, guards: guards, &writer, txn))
        }
        try writer.flush(txn)
        let person = try root(of: node, txn)
        return RepairResult(
            changed: true, identifierNode: node, personsRepaired: writer.report.merges,
            personIDs: [person] + joined.subtracting([person]).sorted(), lastChangeSeq: writer.counters.changes)
    }

    /// Links again the identifiers of stored event `seq` that are not
    /// quarantined (subject to the guards), as `apply` would have linked them
    /// without the quarantined ones; an event that only quarantined
    /// identifiers held moves to its linking identifiers' person. Returns
    /// the persons the event's identifiers are in afterwards.
    func relink(seq: UInt64, site: UInt32, guards: Guards, _ writer: inout BatchWriter, _ txn: borrowing Transaction) throws -> Set<UInt64> {
        guard let stored = try txn.get(tables.log, StoreKeys.logKey(seq)) else { return [] }  // erased since
        let event = try withCallMatch(StoredEvent.decode(stored, seq: seq), txn)
        var allNodes: [UInt64] = []
        var nodes: [UInt64] = []
        for identifier in event.identifiers {
            guard let other = try identNode(site: site, identifier: identifier, txn) else { continue }
            allNodes.append(other)
            if try !writer.record(other, txn).isQuarantined { nodes.append(other) }
        }
        var sessionNode: UInt64?
        if let session = event.callMatch?.session, event.callMatch?.kind == .session {
            sessionNode = try identNode(site: site, identifier: NormalizedIdentifier(uncheckedKind: .session, value: session), txn)
        }
        if let sessionNode, let phone = try nodes.first(where: { try writer.record($0, txn).kind == .phone }) {
            try writer.union(phone, sessionNode, guards: guards, site: site, timeMs: event.timeMs, cause: seq, txn)
        }
        for other in nodes.dropFirst() {
            try writer.union(nodes[0], other, guards: guards, site: site, timeMs: event.timeMs, cause: seq, txn)
        }
        var joined: Set<UInt64> = []
        for other in nodes { joined.insert(try writer.find(other, txn)) }
        // An event that only quarantined identifiers held (anchored at
        // one of them) moves to the released one's person, so every
        // event lives in the person of an identifier that links.
        let current = try (allNodes + (sessionNode.map { [$0] } ?? [])).first { node in
            try txn.get(tables.event, StoreKeys.eventKey(anchor: node, timeMs: event.timeMs, seq: seq)) != nil
        }
        let wanted = try writer.anchor(of: nodes, txn)
        if let current, wanted != 0, wanted != current, try writer.record(current, txn).isQuarantined {
            _ = try txn.delete(tables.event, StoreKeys.eventKey(anchor: current, timeMs: event.timeMs, seq: seq))
            try txn.put(tables.event, StoreKeys.eventKey(anchor: wanted, timeMs: event.timeMs, seq: seq), [UInt8(event.type.rawValue)])
            try writer.updateNode(current, txn) { $0.removeAnchored(event.type) }
            try writer.updateNode(wanted, txn) { $0.addAnchored(event.type) }
        }
        return joined
    }

    // MARK: Reads

    /// A site's quarantined identifiers, oldest node first.
    public func shared(site: UInt32, limit: Int) throws -> [SharedIdentifier] {
        try environment.read { txn in
            var found: [SharedIdentifier] = []
            try txn.scan(tables.quarantine) { key, value in
                let node = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                let record = try nodeRecord(node, txn)
                guard record.site == site else { return true }
                var events: UInt64 = 0
                try forEachSeq(in: tables.quarantineEvent, under: node, txn) { _ in
                    events += 1
                    return true
                }
                found.append(
                    SharedIdentifier(
                        identifier: record.identifier, node: node, firstSeenMs: record.firstSeenMs,
                        record: QuarantineRecord(decoding: value), events: events))
                return found.count < min(limit, GraphLimits.sharedListedMax)
            }
            return found
        }
    }

    /// The quarantine of an identifier's node, if it is quarantined.
    func quarantineRecord(node: UInt64, _ txn: borrowing Transaction) throws -> QuarantineRecord? {
        try txn.get(tables.quarantine, StoreKeys.nodeKey(node)).map { QuarantineRecord(decoding: $0) }
    }

    // MARK: Inside a write transaction

    /// Re-derives `node`'s person without it, then marks it quarantined and
    /// records why; every event of the person that carried it is listed in
    /// `qevent` for a later release. Throws `personTooLarge` having written
    /// nothing.
    func quarantine(
        node: UInt64, record: QuarantineRecord, reason: ChangeRecord.Reason, nowMs: Int64,
        _ counters: inout GraphCounters, _ txn: borrowing Transaction
    ) throws -> PersonRepair.Outcome {
        let repair = PersonRepair(graph: self, reason: reason, causeEvent: record.causeEvent, identifierNode: node, nowMs: nowMs)
        let outcome = try repair.run(
            root: try root(of: node, txn), isolating: node, watchOwnerBeforeMs: record.ownerBeforeMs, counters: &counters, txn)
        // Flagged after the repair, which refuses a person too large before
        // writing anything.
        var nodeRecord = try nodeRecord(node, txn)
        nodeRecord.flags.insert(.quarantined)
        nodeRecord.flags.remove(.released)
        try txn.put(tables.node, StoreKeys.nodeKey(node), nodeRecord.bytes)
        try txn.put(tables.quarantine, StoreKeys.nodeKey(node), record.encoded())
        for seq in outcome.eventsCarrying {
            try txn.put(tables.quarantineEvent, StoreKeys.quarantineEventKey(node: node, seq: seq), [])
        }
        return outcome
    }

    /// The node of an identifier, or nil if it was never seen.
    func identNode(site: UInt32, identifier: NormalizedIdentifier, _ txn: borrowing Transaction) throws -> UInt64? {
        var key: [UInt8] = []
        StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
        return try txn.get(tables.ident, key).map { ByteCoding.littleEndian($0, at: 0, as: UInt64.self) }
    }

    /// The node of an identifier, created as a singleton person if new.
    func nodeCreatingIfNeeded(
        site: UInt32, identifier: NormalizedIdentifier, nowMs: Int64, _ counters: inout GraphCounters, _ txn: borrowing Transaction
    ) throws -> UInt64 {
        if let node = try identNode(site: site, identifier: identifier, txn) { return node }
        let node = counters.nextNode
        counters.nextNode += 1
        counters.persons += 1
        var key: [UInt8] = []
        StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
        var idBytes: [UInt8] = []
        ByteCoding.appendLittleEndian(node, to: &idBytes)
        try txn.put(tables.ident, key, idBytes)
        let record = NodeRecord(id: node, site: site, kind: identifier.kind, value: identifier.value.utf8, timeMs: nowMs)
        try txn.put(tables.node, StoreKeys.nodeKey(node), record.bytes, append: true)
        return node
    }
}
