import StitchBeacon
import StitchIdentity
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
        /// Against the world's truth.
        public var score = StitchingScore()
        /// Against the linkable truth: a person's events that no chain of
        /// shared identifiers in the beacons (and no call-tracking lease)
        /// connects (a device never identified on, a call to the fallback
        /// number from a number never typed) count as different persons. What a perfect stitcher without guards would
        /// reach; the gap to it is the guards' doing.
        public var linkableScore = StitchingScore()
        public var acked = 0
        /// Events with no identifier at all (hidden callers): stored, in nobody's history.
        public var unlinked = 0
        /// Acked events found in none of the histories of their identifiers' persons.
        public var missing = 0
        public var missingExamples: [String] = []
        /// A few server persons that hold events of several true persons:
        /// the person, and one event of each of two of them.
        public var overMergedExamples: [String] = []
        /// Pieces split off true persons (every piece but each person's
        /// largest), by what they hold: only calls, only deals (with calls),
        /// or visits of a device the person never identified on.
        public var splitOffCalls = 0
        public var splitOffDeals = 0
        public var splitOffDevices = 0
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
        // Lease renewals are acked but store nothing: no history holds them.
        let acked = acked.filter {
            if case .leaseRenewal = world.events[$0].beacon.body { false } else { true }
        }
        self.acked = acked
        candidates = acked.map { index in
            let event = world.events[index]
            var keys: [IdentifierKey] = []
            for identifier in (event.probe.map { [$0] } ?? []) + event.beacon.identifiers + Self.bodyIdentifiers(event.beacon) {
                let key = IdentifierKey(site: event.beacon.site, kind: identifier.kind.rawValue, value: identifier.value)
                if !keys.contains(key) { keys.append(key) }
            }
            return keys
        }
    }

    /// The phone and e-mail a form or chat carries in its body: the server
    /// links them like the beacon's identifiers, and an event whose other
    /// links a guard refused lives with their person (the server normalizes
    /// the values it is asked about).
    static func bodyIdentifiers(_ beacon: Stitch_V1_Beacon) -> [Stitch_V1_Identifier] {
        var found: [(Stitch_V1_IdentifierKind, String)] = []
        switch beacon.body {
        case .form(let form): found = [(.phone, form.phone), (.email, form.email)]
        case .chat(let chat): found = [(.phone, chat.phone), (.email, chat.email)]
        default: break
        }
        return found.filter { !$0.1.isEmpty }.map { kind, value in .with { $0.kind = kind; $0.value = value } }
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
        // Person ids are unique within a site's shard only: a predicted
        // person is labelled by (site, person id).
        var personLabels: [PersonKey: UInt64] = [:]
        func label(_ key: PersonKey) -> UInt64 {
            if let label = personLabels[key] { return label }
            personLabels[key] = UInt64(personLabels.count)
            return UInt64(personLabels.count - 1)
        }
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
            predicted.append(home.map { label(PersonKey(site: event.beacon.site, person: $0)) })
        }
        outcome.score = StitchingScore.compute(truth: scored.map { world.events[$0].truth }, predicted: predicted)
        outcome.overMergedExamples = overMergedExamples(scored, predicted, labels: personLabels)
        // A linkable person: one true person within one component.
        let components = linkableComponents(scored)
        var labels: [Pair: UInt64] = [:]
        let linkable = scored.indices.map { position in
            let pair = Pair(truth: world.events[scored[position]].truth, component: components[position])
            if let label = labels[pair] { return label }
            labels[pair] = UInt64(labels.count)
            return UInt64(labels.count - 1)
        }
        outcome.linkableScore = StitchingScore.compute(truth: linkable, predicted: predicted)
        countUnderMerged(scored, predicted, into: &outcome)
        return outcome
    }

    struct Pair: Hashable {
        var truth: UInt64
        var component: Int
    }

    /// Up to three server persons holding events of several true persons,
    /// each with one event id of two of them, to look up and `explain`.
    func overMergedExamples(_ scored: [Int], _ predicted: [UInt64?], labels: [PersonKey: UInt64]) -> [String] {
        var firstEvent: [UInt64: [UInt64: UInt64]] = [:]  // label → truth → an event id
        for (position, index) in scored.enumerated() {
            guard let label = predicted[position] else { continue }
            let event = world.events[index]
            if firstEvent[label, default: [:]][event.truth] == nil { firstEvent[label, default: [:]][event.truth] = event.beacon.eventID }
        }
        let keyOf = Dictionary(uniqueKeysWithValues: labels.map { ($1, $0) })
        return firstEvent.filter { $0.value.count > 1 }.keys.sorted().prefix(3).map { label in
            let events = firstEvent[label]!.sorted { $0.key < $1.key }.prefix(2).map { "\($0.value)" }
            let key = keyOf[label]!
            return "site \(key.site) person \(key.person) holds \(firstEvent[label]!.count) true persons (events \(events.joined(separator: " and ")))"
        }
    }

    /// For each scored event, the component of the identifier graph built
    /// from the beacons themselves (identifiers normalized as the server
    /// does, each site's office phone junk, no guards) and the world's
    /// call-tracking truth (which session each dynamic number was leased to).
    private func linkableComponents(_ scored: [Int]) -> [Int] {
        var parent: [Int] = []
        var index: [String: Int] = [:]
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        var normalizers = NormalizerCache(rules: WorldJunkRules())
        var fallbackNumbers: [UInt32: String] = [:]
        var eventNode: [Int] = []
        for eventIndex in scored {
            let beacon = world.events[eventIndex].beacon
            let normalizer = normalizers.normalizer(site: beacon.site)
            var refused: [RefusedIdentifier] = []
            let identifiers = EventPreparer.normalizedIdentifiers(of: beacon, normalizer: normalizer, refused: &refused)
            // Each event is a node too, so an event with identifiers joins them.
            let node = parent.count
            parent.append(node)
            eventNode.append(node)
            var linked = identifiers
            // Call tracking links a call to the session its number was leased
            // to, unless the pool was exhausted and the fallback was dialled.
            let fallback = fallbackNumbers[beacon.site] ?? World.pool(site: beacon.site).fallbackNumber
            fallbackNumbers[beacon.site] = fallback
            if case .call(let call) = beacon.body, let session = world.events[eventIndex].session,
                call.trackingNumber != fallback,
                let sessionID = try? normalizer.normalize(.session, session)
            {
                linked.append(sessionID)
            }
            for identifier in linked {
                let key = "\(beacon.site)|\(identifier.kind.rawValue)|\(identifier.value)"
                let other = index[key] ?? {
                    let id = parent.count
                    parent.append(id)
                    index[key] = id
                    return id
                }()
                let (a, b) = (find(node), find(other))
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        return eventNode.map(find)
    }

    private func countUnderMerged(_ scored: [Int], _ predicted: [UInt64?], into outcome: inout Outcome) {
        // truth → piece (server person) → the body types in it.
        var pieces: [UInt64: [UInt64: (events: Int, visits: Bool, deals: Bool)]] = [:]
        for (position, index) in scored.enumerated() {
            let event = world.events[index]
            let piece = predicted[position] ?? (1 << 63 | UInt64(position))
            var entry = pieces[event.truth, default: [:]][piece, default: (0, false, false)]
            entry.events += 1
            switch event.beacon.body {
            case .call: break
            case .deal: entry.deals = true
            default: entry.visits = true
            }
            pieces[event.truth, default: [:]][piece] = entry
        }
        for (_, byPiece) in pieces where byPiece.count > 1 {
            let largest = byPiece.max { $0.value.events < $1.value.events }!.key
            for (piece, entry) in byPiece where piece != largest {
                if entry.visits {
                    outcome.splitOffDevices += 1
                } else if entry.deals {
                    outcome.splitOffDeals += 1
                } else {
                    outcome.splitOffCalls += 1
                }
            }
        }
    }
}

/// The world's sites judge identifiers as a server with their pools declared
/// would: standard junk plus the site's office phone.
struct WorldJunkRules: SiteJunkRules {
    var junkGeneration: UInt64 { 0 }

    func junkRules(site: UInt32) -> JunkRules {
        var junk = JunkRules.standard
        if let office = try? IdentifierNormalizer(junk: .standard).normalize(.phone, World.officePhone(site: site)) {
            junk.phones.insert(office.value)
        }
        return junk
    }
}
