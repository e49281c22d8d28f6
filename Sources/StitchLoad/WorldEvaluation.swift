import StitchWire

/// Scores a server's stitching of a world from what the server answered:
/// who owns each identifier (lookups) and which events each person's
/// history holds. Pure, so a broken server can be simulated in tests.
public struct WorldEvaluation: Sendable {
    /// An identifier of a site, as asked (raw; the server normalizes).
    public struct IdentifierKey: Hashable, Sendable {
        public var site: UInt32
        public var kind: Int
        public var value: String

        public init(site: UInt32, kind: Int, value: String) {
            self.site = site
            self.kind = kind
            self.value = value
        }
    }

    public struct PersonKey: Hashable, Sendable {
        public var site: UInt32
        public var person: UInt64

        public init(site: UInt32, person: UInt64) {
            self.site = site
            self.person = person
        }
    }

    public struct Outcome: Sendable {
        public var score = StitchingScore()
        public var acked = 0
        /// Events with no identifier at all (hidden callers): stored, in nobody's history.
        public var unlinked = 0
        /// Acked events found in none of the histories of their identifiers' persons.
        public var missing = 0
        public var missingExamples: [String] = []
        /// Under-merged true persons that have a call, a deal.
        public var underMergedWithCall = 0
        public var underMergedWithDeal = 0
        public var personsRead = 0
    }

    public let world: World
    /// Indexes into `world.events` of the acknowledged events.
    public let acked: [Int]
    /// For each acked event: the identifiers to ask about (the generator's
    /// probe first, then every identifier the beacon names).
    let candidates: [[IdentifierKey]]

    public init(world: World, acked: [Int]) {
        self.world = world
        self.acked = acked
        candidates = acked.map { index in
            let event = world.events[index]
            var keys: [IdentifierKey] = []
            for identifier in (event.probe.map { [$0] } ?? []) + event.beacon.identifiers {
                let key = IdentifierKey(site: event.beacon.site, kind: identifier.kind.rawValue, value: identifier.value)
                if !keys.contains(key) { keys.append(key) }
            }
            return keys
        }
    }

    /// Every identifier whose owner the server must be asked.
    public var identifiersToLookUp: Set<IdentifierKey> { Set(candidates.joined()) }

    /// Every person whose history must be read, given the owners.
    public func personsToRead(owners: [IdentifierKey: UInt64]) -> [PersonKey] {
        Array(Set(candidates.joined().compactMap { key in owners[key].map { PersonKey(site: key.site, person: $0) } }))
    }

    /// Where the server put each event (in the history of one of its
    /// identifiers' persons: when a guard refused a link they are several),
    /// scored against the truth.
    public func evaluate(owners: [IdentifierKey: UInt64], histories: [PersonKey: Set<UInt64>]) -> Outcome {
        var outcome = Outcome()
        outcome.acked = acked.count
        outcome.personsRead = histories.count
        // Events without any identifier cannot be stitched by anyone: they
        // are counted apart and left out of the pairwise score.
        var scored: [Int] = []
        var predicted: [UInt64?] = []
        for (position, index) in acked.enumerated() {
            let event = world.events[index]
            if candidates[position].isEmpty {
                outcome.unlinked += 1
                continue
            }
            scored.append(index)
            let home = candidates[position].lazy
                .compactMap { owners[$0] }
                .first { histories[PersonKey(site: event.beacon.site, person: $0)]?.contains(event.beacon.eventID) ?? false }
            if home == nil {
                outcome.missing += 1
                if outcome.missingExamples.count < 5 {
                    outcome.missingExamples.append("site \(event.beacon.site) event \(event.beacon.eventID)")
                }
            }
            predicted.append(home)
        }
        outcome.score = StitchingScore.compute(truth: scored.map { world.events[$0].truth }, predicted: predicted)
        countUnderMerged(scored, predicted, into: &outcome)
        return outcome
    }

    private func countUnderMerged(_ scored: [Int], _ predicted: [UInt64?], into outcome: inout Outcome) {
        var clusters: [UInt64: Set<UInt64?>] = [:]
        var hasCall: Set<UInt64> = [], hasDeal: Set<UInt64> = []
        for (position, index) in scored.enumerated() {
            let event = world.events[index]
            clusters[event.truth, default: []].insert(predicted[position] ?? (1 << 63 | UInt64(position)))
            if case .call = event.beacon.body { hasCall.insert(event.truth) }
            if case .deal = event.beacon.body { hasDeal.insert(event.truth) }
        }
        for (truth, predictedSet) in clusters where predictedSet.count > 1 {
            if hasCall.contains(truth) { outcome.underMergedWithCall += 1 }
            if hasDeal.contains(truth) { outcome.underMergedWithDeal += 1 }
        }
    }
}
