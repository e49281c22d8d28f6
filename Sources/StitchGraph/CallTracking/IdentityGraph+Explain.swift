import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// Why `a` and `b` are (or are not) one person: a shortest chain of events
    /// and identifiers from `a` to `b`, or the guard that refused their link.
    ///
    /// The chain is found over the person's own events: each event links the
    /// identifiers it carries, and a matched call also links the session
    /// whose lease covered it.
    public func explain(site: UInt32, a: NormalizedIdentifier, b: NormalizedIdentifier) throws(ExplainError)
        -> Explanation
    {
        do {
            return try environment.read { txn in try explain(site: site, a: a, b: b, txn) }
        } catch let error as ExplainError {
            throw error
        } catch {
            throw .store("\(error)")
        }
    }

    private func explain(site: UInt32, a: NormalizedIdentifier, b: NormalizedIdentifier, _ txn: borrowing Transaction)
        throws -> Explanation
    {
        guard let nodeA = try identNode(site: site, identifier: a, txn),
            let nodeB = try identNode(site: site, identifier: b, txn)
        else {
            return Explanation(verdict: .unknown)
        }
        let rootA = try root(of: nodeA, txn), rootB = try root(of: nodeB, txn)
        var explanation = Explanation(verdict: .notLinked, personA: rootA, personB: rootB)
        let links = try PersonLinks(graph: self, root: rootA, site: site, txn)
        if rootA == rootB {
            explanation.verdict = .linked
            explanation.steps = links.chain(from: nodeA, to: nodeB)
            return explanation
        }
        // A quarantined identifier links nothing: say so, and why.
        for node in [nodeA, nodeB] {
            guard let quarantine = try quarantineRecord(node: node, txn) else { continue }
            explanation.verdict = .refused
            explanation.refusal = Explanation.Refusal(
                eventSeq: quarantine.causeEvent, timeMs: quarantine.sinceMs,
                reason: quarantine.refusalReason)
            return explanation
        }
        // An event of one person that carries an identifier of the other: its
        // link was refused. Looked for from both sides (the event sits with
        // the person holding most of its identifiers).
        let fromA = try links.eventTouching(root: rootB, graph: self, txn)
        let fromB = fromA == nil
            ? try PersonLinks(graph: self, root: rootB, site: site, txn).eventTouching(root: rootA, graph: self, txn)
            : nil
        guard let event = fromA ?? fromB else { return explanation }
        explanation.verdict = .refused
        explanation.refusal = Explanation.Refusal(
            eventSeq: event.seq, timeMs: event.timeMs,
            reason: (try? conflictReason(causeEvent: event.seq, roots: [rootA, rootB], txn))?.description ?? "unrecorded")
        return explanation
    }

    /// The guard that refused a link caused by `causeEvent` between persons
    /// now rooted at `roots`. Conflicts are logged in event order, so a binary
    /// search finds the event's; a late call match logs out of order and is
    /// found by the scan that follows.
    func conflictReason(causeEvent: UInt64, roots: Set<UInt64>, _ txn: borrowing Transaction) throws
        -> ConflictReason?
    {
        let count = try counters(txn).conflicts
        func conflict(_ seq: UInt64) throws -> ConflictRecord {
            ConflictRecord(seq: seq, decoding: try txn.get(tables.conflict, StoreKeys.seqKey(seq))!)
        }
        func matches(_ record: ConflictRecord) throws -> Bool {
            guard record.causeEvent == causeEvent else { return false }
            let rootA = try root(of: record.personA, txn), rootB = try root(of: record.personB, txn)
            return roots.contains(rootA) && roots.contains(rootB)
        }
        var low: UInt64 = 1, high = count + 1
        while low < high {
            let middle = (low + high) / 2
            if try conflict(middle).causeEvent < causeEvent { low = middle + 1 } else { high = middle }
        }
        var seq = low
        while seq <= count, try conflict(seq).causeEvent == causeEvent {
            if try matches(try conflict(seq)) { return try conflict(seq).reason }
            seq += 1
        }
        var scanned = 0
        seq = count
        while seq >= 1, scanned < GraphLimits.explainConflictsScannedMax {
            if try matches(try conflict(seq)) { return try conflict(seq).reason }
            seq -= 1
            scanned += 1
        }
        return nil
    }
}

/// Why an explain request could not be answered.
public enum ExplainError: Error, Equatable, Sendable, CustomStringConvertible {
    case personTooLarge(events: Int)
    case store(String)

    public var description: String {
        switch self {
        case .personTooLarge(let events):
            "the person has more than \(events) events; explain reads at most \(GraphLimits.explainEventsMax)"
        case .store(let message): "store error: \(message)"
        }
    }
}
