import StitchIdentity
import StitchStore

/// Re-derives one person from its stored events (issue 13): the links its
/// events make under the current rules — quarantined identifiers link
/// nothing, the guards apply — recomputed in memory, and the person rewritten
/// as the components that result.
///
/// Ids stay stable: every part is named by its oldest node (the smallest id,
/// ids being assigned in order), so the part holding the old root keeps the
/// person's id, and every member's parent points straight at its part's root,
/// so any id that named the person resolves to the part it is in now.
///
/// What is rebuilt: parents, rings, per-kind counts, event anchors and the
/// per-node anchored counts. Leases are keyed by session node and call
/// matches by event seq, so they follow their nodes and events without being
/// rewritten; a matched call's link (caller phone ↔ session) is replayed.
///
/// It reads and writes `txn` directly: run it only when no `BatchWriter`
/// holds cached nodes (after its flush).
struct PersonRepair {
    let graph: IdentityGraph
    /// Why the person is re-derived, for the change record.
    let reason: ChangeRecord.Reason
    let causeEvent: UInt64
    let identifierNode: UInt64
    let nowMs: Int64

    /// The outcome: the person's parts (the kept id first) and the events
    /// that carried `watch` (the identifier being quarantined).
    struct Outcome {
        var parts: [UInt64] = []
        var eventsCarrying: [UInt64] = []
        var conflicts = 0
    }

    /// One stored event as the repair sees it.
    private struct EventLinks {
        var seq: UInt64
        var timeMs: Int64
        var type: UInt8
        var anchor: UInt64
        /// Members of the person it names, in the event's order.
        var nodes: [UInt64]
        /// A matched call: the session node whose lease covered it.
        var matchedSession: UInt64?
        /// Quarantined devices the event carried before their sharing
        /// began (`QuarantineRecord.ownerBeforeMs`): the first owner's era.
        var ownerDevices: [UInt64] = []
    }

    /// Re-derives the person whose root is `root`; `isolating` is a node to
    /// treat as quarantined (the one being quarantined; 0 = none), whose
    /// carrying events are listed in the outcome. Everything is read (and
    /// the size bounds checked) before anything is written, so a refusal
    /// leaves the transaction untouched.
    ///
    /// Events before a quarantined device's `ownerBeforeMs` (the watched
    /// node's is `watchOwnerBeforeMs`), from the first that carries a
    /// personal identifier on, stay linked to each other, as the device
    /// linked them then: the first owner keeps the history from before the
    /// device was shared, and the device itself stays apart.
    func run(
        root: UInt64, isolating watch: UInt64 = 0, watchOwnerBeforeMs: Int64 = 0, counters: inout GraphCounters,
        _ txn: borrowing Transaction
    ) throws -> Outcome {
        // 1. Members and their records.
        var members: [UInt64] = []
        var records: [UInt64: NodeRecord] = [:]
        var current = root
        repeat {
            guard members.count < GraphLimits.repairIdentifiersMax else {
                throw GraphError.personTooLarge(personID: root, identifiersMax: GraphLimits.repairIdentifiersMax)
            }
            let record = try graph.nodeRecord(current, txn)
            members.append(current)
            records[current] = record
            current = record.next
        } while current != root
        let site = records[root]!.site
        let guards = graph.configuration.rules(for: site).guards

        // 2. Their events, with the identifiers each names among the members.
        var events: [EventLinks] = []
        var nodeOfKey: [ByteKey: UInt64?] = [:]
        var ownerBeforeOf: [UInt64: Int64] = [:]
        var key: [UInt8] = []
        var outcome = Outcome()
        for member in members {
            try graph.forEachIndexedEvent(anchor: member, fromMs: .min, txn) { timeMs, seq, type in
                events.append(EventLinks(seq: seq, timeMs: timeMs, type: UInt8(type.rawValue), anchor: member, nodes: []))
                return events.count <= GraphLimits.repairEventsMax
            }
            guard events.count <= GraphLimits.repairEventsMax else {
                throw GraphError.personTooLarge(personID: root, identifiersMax: GraphLimits.repairIdentifiersMax)
            }
        }
        events.sort { $0.seq < $1.seq }
        for index in events.indices {
            let event = try graph.event(seq: events[index].seq, txn)
            for identifier in event.identifiers {
                StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
                let cacheKey = ByteKey(bytes: key)
                let node: UInt64?
                if let cached = nodeOfKey[cacheKey] {
                    node = cached
                } else {
                    node = try txn.get(graph.tables.ident, key).map { ByteCoding.littleEndian($0, at: 0, as: UInt64.self) }
                    nodeOfKey[cacheKey] = node
                }
                if let node, records[node] != nil { events[index].nodes.append(node) }
                if let node {
                    let ownerBefore = try ownerBeforeMs(of: node, watch: watch, watchOwnerBeforeMs: watchOwnerBeforeMs, members: records, &ownerBeforeOf, txn)
                    if events[index].timeMs < ownerBefore { events[index].ownerDevices.append(node) }
                }
            }
            if watch != 0, events[index].nodes.contains(watch) { outcome.eventsCarrying.append(events[index].seq) }
            if let match = event.callMatch, match.kind == .session, let session = match.session {
                StoreKeys.identKey(site: site, kind: .session, value: session.utf8, into: &key)
                if let node = try txn.get(graph.tables.ident, key).map({ ByteCoding.littleEndian($0, at: 0, as: UInt64.self) }),
                    records[node] != nil
                {
                    events[index].matchedSession = node
                }
            }
        }

        // 3. Union-find in memory, replaying the links in event order.
        var parent: [UInt64: UInt64] = [:]
        var counts: [UInt64: KindCounts] = [:]
        for member in members {
            parent[member] = member
            var count = KindCounts()
            count.add(records[member]!.kind)
            counts[member] = count
        }
        func find(_ node: UInt64) -> UInt64 {
            var top = node
            while parent[top]! != top { top = parent[top]! }
            var walk = node
            while walk != top {
                let next = parent[walk]!
                parent[walk] = top
                walk = next
            }
            return top
        }
        var newConflicts: [ConflictRecord] = []
        func union(_ a: UInt64, _ b: UInt64, event: EventLinks) {
            let rootA = find(a), rootB = find(b)
            if rootA == rootB { return }
            let winner = min(rootA, rootB), loser = max(rootA, rootB)
            if let refusal = guards.refusal(counts[winner]!, counts[loser]!) {
                newConflicts.append(
                    ConflictRecord(seq: 0, site: site, timeMs: event.timeMs, personA: winner, personB: loser, causeEvent: event.seq, reason: refusal))
                return
            }
            parent[loser] = winner
            counts[winner]!.absorb(counts[loser]!)
        }
        let linkable = { (node: UInt64) in node != watch && !records[node]!.isQuarantined }
        var ownerAnchor: [UInt64: UInt64] = [:]
        for event in events {
            let links = event.nodes.filter(linkable)
            for other in links.dropFirst() { union(links[0], other, event: event) }
            // The owner is the first person to leave a personal identifier
            // on the device; its events before then may be anyone's (a
            // kiosk's first anonymous visitors), so they stay apart.
            for device in event.ownerDevices {
                guard let first = links.first else { continue }
                if let anchor = ownerAnchor[device] {
                    union(anchor, first, event: event)
                } else if links.contains(where: { records[$0]!.kind.isPersonal }) {
                    ownerAnchor[device] = first
                }
            }
            if let session = event.matchedSession, linkable(session), let caller = links.first(where: { records[$0]!.kind == .phone }) {
                union(caller, session, event: event)
            }
        }

        // 4. Parts: each named by its smallest member.
        var partMembers: [UInt64: [UInt64]] = [:]
        for member in members { partMembers[find(member), default: []].append(member) }
        var partOf: [UInt64: UInt64] = [:]
        for (_, group) in partMembers {
            let name = group.min()!
            for member in group { partOf[member] = name }
        }

        // 5. Event anchors by the writer's rule, and anchored counts.
        for member in members { records[member]!.clearAnchored() }
        for event in events {
            var anchor = Self.anchor(of: event.nodes.filter(linkable), partOf: partOf)
            if anchor == 0 { anchor = Self.anchor(of: event.nodes, partOf: partOf) }
            if anchor == 0 { anchor = event.matchedSession ?? event.anchor }
            if anchor != event.anchor {
                _ = try txn.delete(graph.tables.event, StoreKeys.eventKey(anchor: event.anchor, timeMs: event.timeMs, seq: event.seq))
                try txn.put(graph.tables.event, StoreKeys.eventKey(anchor: anchor, timeMs: event.timeMs, seq: event.seq), [event.type])
            }
            records[anchor]!.addAnchored(EventType(rawValue: Int(event.type))!)
        }

        // 6. Rings, parents and counts, written once per member. The
        // devices of a person split off a shared identifier start their
        // counts afresh: links counted while it was glued to strangers (a
        // visitor's own e-mail typed at home meeting the kiosk's other
        // visitors) say nothing about the visitor's own browser. Phones and
        // e-mails keep theirs: an office phone glued to a kiosk is still one.
        let countsVoid = reason == .sharedIdentifier && partMembers.count > 1
        for (_, group) in partMembers {
            let ordered = group.sorted()
            let name = ordered[0]
            var total = KindCounts()
            for member in ordered { total.add(records[member]!.kind) }
            for (position, member) in ordered.enumerated() {
                var record = records[member]!
                record.parent = name
                record.next = ordered[(position + 1) % ordered.count]
                for kind in IdentifierKind.allCases { record.setKindCount(kind, member == name ? total.kindCount(kind) : 0) }
                if countsVoid && member != watch && record.kind.isDevice { record.hubLinks = 0 }
                try txn.put(graph.tables.node, StoreKeys.nodeKey(member), record.bytes)
            }
        }
        for var conflict in newConflicts {
            conflict.seq = counters.nextConflict
            counters.nextConflict += 1
            try conflict.store(graph.tables, txn)
        }
        outcome.conflicts = newConflicts.count

        // 7. The change feed.
        let parts = partMembers.values.map { $0.min()! }.sorted()
        outcome.parts = parts
        counters.persons += UInt64(parts.count - 1)
        if parts.count > 1 {
            let change = ChangeRecord(
                seq: counters.nextChange, kind: .split, reason: reason, site: site, timeMs: nowMs, winner: root,
                causeEvent: causeEvent, identifierNode: identifierNode, parts: parts.filter { $0 != root })
            try txn.put(graph.tables.change, StoreKeys.seqKey(change.seq), change.encoded(), append: true)
            counters.nextChange += 1
        }
        return outcome
    }

    /// The writer's anchor rule (`AnchorRule`) on known parts; 0 for no nodes.
    static func anchor(of nodes: [UInt64], partOf: [UInt64: UInt64]) -> UInt64 {
        AnchorRule.anchor(nodes.map { (partOf[$0]!, $0) })
    }
}

extension PersonRepair {
    /// A node's `QuarantineRecord.ownerBeforeMs`: the watched node's as
    /// given, a quarantined node's as recorded, 0 for any other (cached).
    fileprivate func ownerBeforeMs(
        of node: UInt64, watch: UInt64, watchOwnerBeforeMs: Int64, members: [UInt64: NodeRecord],
        _ cache: inout [UInt64: Int64], _ txn: borrowing Transaction
    ) throws -> Int64 {
        if node == watch { return watchOwnerBeforeMs }
        if let cached = cache[node] { return cached }
        var ownerBefore: Int64 = 0
        if members[node] == nil, try graph.nodeRecord(node, txn).isQuarantined {
            ownerBefore = try graph.quarantineRecord(node: node, txn)?.ownerBeforeMs ?? 0
        }
        cache[node] = ownerBefore
        return ownerBefore
    }
}
