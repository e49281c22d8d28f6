import StitchIdentity
import StitchStore

/// A person's members and the events that link them, read for `explain` and
/// for the person's graph (`personGraph`): each event links the identifiers
/// it carries, and a matched call also links the session whose lease
/// covered it.
struct PersonLinks {
    struct Link {
        let event: EventRecord
        let nodes: [UInt64]
        let via: String
    }

    var records: [UInt64: NodeRecord] = [:]
    var links: [Link] = []
    /// Identifiers carried by the person's events that belong to no member.
    var strangers: [(event: Int, kind: IdentifierKind, value: String)] = []

    init(graph: IdentityGraph, root: UInt64, site: UInt32, _ txn: borrowing Transaction) throws {
        var byIdentifier: [String: UInt64] = [:]
        func key(_ kind: IdentifierKind, _ value: String) -> String { "\(kind.rawValue):\(value)" }
        let overlay = try graph.indexOverlay(txn)
        try graph.forEachMember(ofRoot: root, txn) { id, record in
            var record = record
            record.lastSeenMs = graph.lastSeenMs(of: id, record, overlay)
            records[id] = record
            byIdentifier[key(record.kind, String(decoding: record.value, as: UTF8.self))] = id
        }
        var seqs: [UInt64] = []
        for member in records.keys {
            try graph.forEachIndexedEvent(anchor: member, fromMs: .min, txn) { _, seq, _ in
                seqs.append(seq)
                guard seqs.count <= GraphLimits.explainEventsMax else {
                    throw ExplainError.personTooLarge(events: seqs.count)
                }
                return true
            }
        }
        seqs.sort()
        for seq in seqs {
            let event = try graph.event(seq: seq, txn)
            var nodes: [UInt64] = []
            for identifier in event.identifiers {
                if let node = byIdentifier[key(identifier.kind, identifier.value)] {
                    nodes.append(node)
                } else {
                    strangers.append((links.count, identifier.kind, identifier.value))
                }
            }
            var via = "same event"
            if let match = event.callMatch, match.kind == .session, let session = match.session {
                if let node = byIdentifier[key(.session, session)] {
                    nodes.append(node)
                    via = "call matched by the lease of \(match.trackingNumber)"
                } else {
                    strangers.append((links.count, .session, session))
                }
            }
            links.append(Link(event: event, nodes: nodes, via: via))
        }
    }

    /// A shortest chain of links from `start` to `goal` (breadth first).
    func chain(from start: UInt64, to goal: UInt64) -> [Explanation.Step] {
        guard start != goal else { return [] }
        var linksOfNode: [UInt64: [Int]] = [:]
        for (index, link) in links.enumerated() where link.nodes.count > 1 {
            for node in link.nodes { linksOfNode[node, default: []].append(index) }
        }
        var cameFrom: [UInt64: (node: UInt64, link: Int)] = [:]
        var frontier = [start]
        var seen: Set<UInt64> = [start]
        search: while !frontier.isEmpty {
            var next: [UInt64] = []
            for node in frontier {
                for index in linksOfNode[node] ?? [] {
                    for other in links[index].nodes where seen.insert(other).inserted {
                        cameFrom[other] = (node, index)
                        if other == goal { break search }
                        next.append(other)
                    }
                }
            }
            frontier = next
        }
        var steps: [Explanation.Step] = []
        var current = goal
        while let (previous, index) = cameFrom[current] {
            let link = links[index]
            steps.append(Explanation.Step(
                from: member(previous), to: member(current), eventSeq: link.event.seq, eventType: link.event.type,
                timeMs: link.event.timeMs, via: link.via))
            current = previous
        }
        return steps.reversed()
    }

    /// The first of this person's events carrying an identifier of the person `root`.
    func eventTouching(root: UInt64, graph: IdentityGraph, _ txn: borrowing Transaction) throws -> EventRecord? {
        let site = records.values.first?.site ?? 0
        for stranger in strangers {
            if let node = try graph.identNode(
                site: site, identifier: NormalizedIdentifier(uncheckedKind: stranger.kind, value: stranger.value), txn),
                try graph.root(of: node, txn) == root
            {
                return links[stranger.event].event
            }
        }
        return nil
    }

    func member(_ node: UInt64) -> PersonIdentifier {
        PersonIdentifier(records[node]!)
    }
}
