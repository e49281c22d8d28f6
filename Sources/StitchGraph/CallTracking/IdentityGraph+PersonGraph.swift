import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// Most identifiers one graph page holds, and the default page.
    public static let graphIdentifiersMax = 1000
    public static let graphIdentifiersDefault = 200
    /// Most links and refusals one graph page lists (the rest are counted).
    public static let graphLinksMax = 2000
    public static let graphRefusalsMax = 200

    /// The person holding `identifier` as a graph, one page of identifiers;
    /// nil when the identifier is unknown.
    public func personGraph(site: UInt32, identifier: NormalizedIdentifier, offset: Int, limit: Int) throws(ExplainError)
        -> PersonGraph?
    {
        try readGraph { txn in
            guard let root = try resolve(site: site, identifier: identifier, txn) else { return nil }
            return try personGraph(site: site, root: root, offset: offset, limit: limit, txn)
        }
    }

    /// The person with any id it ever had, as a graph; nil when there is none in `site`.
    public func personGraph(site: UInt32, personID: UInt64, offset: Int, limit: Int) throws(ExplainError) -> PersonGraph? {
        try readGraph { txn in
            guard let root = try existingRoot(of: personID, site: site, txn) else { return nil }
            return try personGraph(site: site, root: root, offset: offset, limit: limit, txn)
        }
    }

    private func readGraph(_ body: (borrowing Transaction) throws -> PersonGraph?) throws(ExplainError) -> PersonGraph? {
        do {
            return try environment.read { txn in try body(txn) }
        } catch let error as ExplainError {
            throw error
        } catch {
            throw .store("\(error)")
        }
    }

    private func personGraph(site: UInt32, root: UInt64, offset: Int, limit: Int, _ txn: borrowing Transaction) throws
        -> PersonGraph
    {
        let links = try PersonLinks(graph: self, root: root, site: site, txn)
        let sorted = links.records.keys.sorted { a, b in
            let left = links.records[a]!, right = links.records[b]!
            guard left.kind == right.kind else { return left.kind.rawValue < right.kind.rawValue }
            return left.value.lexicographicallyPrecedes(right.value)
        }
        let start = min(max(offset, 0), sorted.count)
        let page = Array(sorted[start..<min(sorted.count, start + max(limit, 0))])
        let index = Dictionary(uniqueKeysWithValues: page.enumerated().map { ($0.element, $0.offset) })
        var graph = PersonGraph(
            personID: root, identifierCount: sorted.count, identifiersOffset: start,
            identifiers: page.map { links.member($0) }, links: [], refusals: [], linksOmitted: 0)
        // One link per set of identifiers, named by its first event.
        var linkOf: [[Int]: Int] = [:]
        var omitted: Set<[Int]> = []
        for link in links.links {
            let nodes = Array(Set(link.nodes.compactMap { index[$0] })).sorted()
            guard nodes.count > 1 else { continue }
            if let existing = linkOf[nodes] {
                graph.links[existing].events += 1
                continue
            }
            guard graph.links.count < Self.graphLinksMax else {
                omitted.insert(nodes)
                continue
            }
            linkOf[nodes] = graph.links.count
            graph.links.append(PersonGraph.Link(
                eventSeq: link.event.seq, eventType: link.event.type, timeMs: link.event.timeMs, via: link.via, nodes: nodes,
                events: 1))
        }
        graph.linksOmitted = omitted.count
        // One refusal per identifier of another person: its first event, and
        // how many of this person's events carried it.
        var refusalOf: [String: Int] = [:]
        for stranger in links.strangers {
            let link = links.links[stranger.event]
            let nodes = Array(Set(link.nodes.compactMap { index[$0] })).sorted()
            guard !nodes.isEmpty || page.count == sorted.count else { continue }
            let key = "\(stranger.kind.rawValue):\(stranger.value)"
            if let existing = refusalOf[key] {
                graph.refusals[existing].events += 1
                continue
            }
            guard graph.refusals.count < Self.graphRefusalsMax else { continue }
            refusalOf[key] = graph.refusals.count
            let identifier = NormalizedIdentifier(uncheckedKind: stranger.kind, value: stranger.value)
            var other = PersonIdentifier(identifier: identifier, firstSeenMs: link.event.timeMs)
            var otherRoot: UInt64 = 0
            var reason = "unrecorded"
            if let node = try identNode(site: site, identifier: identifier, txn) {
                let record = try nodeRecord(node, txn)
                other = PersonIdentifier(record)
                other.lastSeenMs = lastSeenMs(of: node, record, try indexOverlay(txn))
                otherRoot = try self.root(of: node, txn)
                if let quarantine = try quarantineRecord(node: node, txn) {
                    reason = quarantine.refusalReason
                } else if let conflict = try conflictReason(causeEvent: link.event.seq, roots: [root, otherRoot], txn) {
                    reason = conflict.description
                }
            }
            graph.refusals.append(PersonGraph.Refusal(
                eventSeq: link.event.seq, eventType: link.event.type, timeMs: link.event.timeMs, nodes: nodes,
                other: other, otherPersonID: otherRoot, reason: reason, events: 1))
        }
        return graph
    }
}
