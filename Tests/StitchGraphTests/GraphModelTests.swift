import StitchGraph
import StitchIdentity
import StitchTesting
import StitchWire
import Testing

/// The graph against a plain model: the identifiers of every accepted link,
/// with persons computed by breadth-first search. After every batch, each
/// identifier's person id must be the oldest (smallest) node of its BFS
/// component, and the totals must agree.
@Suite struct GraphModelTests {
    /// A model of the graph: nodes numbered in first-seen order, accepted
    /// edges, and the same guard decisions made on BFS components.
    struct Model {
        var ids: [String: UInt64] = [:]     // "site|kind|value" → node id
        var kinds: [UInt64: IdentifierKind] = [:]
        var edges: [UInt64: [UInt64]] = [:]
        var merges = 0
        var conflicts: [String: Int] = [:]
        let guards: Guards

        mutating func node(_ site: UInt32, _ identifier: NormalizedIdentifier) -> UInt64 {
            let key = "\(site)|\(identifier.kind.rawValue)|\(identifier.value)"
            if let id = ids[key] { return id }
            let id = UInt64(ids.count + 1)
            ids[key] = id
            kinds[id] = identifier.kind
            return id
        }

        func component(_ start: UInt64) -> Set<UInt64> {
            var seen: Set<UInt64> = [start]
            var queue = [start]
            while let next = queue.popLast() {
                for neighbour in edges[next, default: []] where seen.insert(neighbour).inserted {
                    queue.append(neighbour)
                }
            }
            return seen
        }

        func count(_ component: Set<UInt64>, _ kind: IdentifierKind) -> Int {
            component.filter { kinds[$0] == kind }.count
        }

        /// The guards of `Guards.refusal`, restated on plain sets.
        func refusal(_ a: Set<UInt64>, _ b: Set<UInt64>) -> String? {
            if guards.capsByKind[.userID] != nil && count(a, .userID) > 0 && count(b, .userID) > 0 {
                return "distinct_user_ids"
            }
            for kind in IdentifierKind.allCases {
                if let cap = guards.capsByKind[kind], count(a, kind) + count(b, kind) > cap { return "cap_\(kind.name)" }
            }
            if a.count + b.count > guards.identifiersMax { return "identifiers_max" }
            return nil
        }

        mutating func link(_ a: UInt64, _ b: UInt64) {
            let componentA = component(a)
            if componentA.contains(b) { return }
            if let reason = refusal(componentA, component(b)) {
                conflicts[reason, default: 0] += 1
                return
            }
            edges[a, default: []].append(b)
            edges[b, default: []].append(a)
            merges += 1
        }

        var persons: Int {
            var seen: Set<UInt64> = []
            var count = 0
            for id in kinds.keys where !seen.contains(id) {
                seen.formUnion(component(id))
                count += 1
            }
            return count
        }
    }

    static let pools: [(IdentifierKind, [String])] = [
        (.cookie, (0..<30).map { "cookie-\($0)-abcdef" } + ["undefined"]),
        (.session, (0..<40).map { "session-\($0)-abcdef" }),
        (.phone, (0..<15).map { "+7916000\(String(format: "%04d", $0 * 37))" }),
        (.email, (0..<15).map { "person\($0)@mail.ru" } + ["null"]),
        (.userID, (0..<6).map { "user\($0)" }),
        (.gaClientID, (0..<20).map { "\(1000 + $0).1600000000" }),
    ]

    static func randomBeacon(_ random: inout SeededGenerator, time: Int64) -> Stitch_V1_Beacon {
        let site: UInt32 = Int.random(in: 0..<10, using: &random) == 0 ? 2 : 1
        let count = Int.random(in: 1...4, using: &random)
        let identifiers = (0..<count).map { _ -> (IdentifierKind, String) in
            let (kind, values) = pools.randomElement(using: &random)!
            return (kind, values.randomElement(using: &random)!)
        }
        var beacon = Beacons.hit(site: site, time: time, identifiers)
        if Int.random(in: 0..<5, using: &random) == 0 {
            // A form whose phone is derived from the body, typed another way.
            let phone = pools[2].1.randomElement(using: &random)!
            beacon.form = .with { $0.phone = "8 " + phone.dropFirst(2) }
        }
        return beacon
    }

    /// The identifiers the graph derives from a beacon, in its order.
    static func modelIdentifiers(_ beacon: Stitch_V1_Beacon) -> [NormalizedIdentifier] {
        let normalizer = IdentifierNormalizer()
        var result: [NormalizedIdentifier] = []
        var raws = beacon.identifiers.map { (IdentifierKind(rawValue: UInt8($0.kind.rawValue))!, $0.value) }
        if case .form(let form) = beacon.body, !form.phone.isEmpty { raws.append((.phone, form.phone)) }
        for (kind, raw) in raws {
            if let identifier = try? normalizer.normalize(kind, raw), !result.contains(identifier) {
                result.append(identifier)
            }
        }
        return result
    }

    func run(guards: Guards, name: String) throws {
        var random = SeededGenerator.forTest(name)
        // The shared-identifier rule is off: random links would trip it (the
        // repair model test covers it).
        let test = try TestGraph(configuration: GraphConfiguration(defaultRules: SiteRules(guards: guards, hub: .off, device: .off)))
        var model = Model(guards: guards)
        var time: Int64 = 1_700_000_000_000
        var events = 0
        for batchIndex in 0..<60 {
            if batchIndex == 30 { try test.reopen() }
            let beacons = (0..<Int.random(in: 1...100, using: &random)).map { _ -> Stitch_V1_Beacon in
                time += Int64.random(in: 1...60_000, using: &random)
                return Self.randomBeacon(&random, time: time)
            }
            try test.apply(beacons)
            events += beacons.count
            for beacon in beacons {
                let nodes = Self.modelIdentifiers(beacon).map { model.node(beacon.site, $0) }
                for other in nodes.dropFirst() { model.link(nodes[0], other) }
            }
            try compare(test, model, events: events, batch: batchIndex)
        }
        #expect(events > 2000)
    }

    func compare(_ test: TestGraph, _ model: Model, events: Int, batch: Int) throws {
        for (key, id) in model.ids {
            let parts = key.split(separator: "|", maxSplits: 2)
            let site = UInt32(parts[0])!, kind = IdentifierKind(rawValue: UInt8(parts[1])!)!
            let expected = model.component(id).min()!
            let actual = try test.person(kind, String(parts[2]), site: site)
            #expect(actual == expected, "batch \(batch): \(key) is in person \(actual.map(String.init) ?? "none"), model says \(expected)")
        }
        let totals = try test.graph.totals()
        #expect(totals.identifiers == UInt64(model.ids.count), "batch \(batch)")
        #expect(totals.persons == UInt64(model.persons), "batch \(batch)")
        #expect(totals.merges == UInt64(model.merges), "batch \(batch)")
        #expect(totals.conflicts == UInt64(model.conflicts.values.reduce(0, +)), "batch \(batch)")
        #expect(totals.events == UInt64(events), "batch \(batch)")
    }

    @Test func matchesBFSWithGuardsOff() throws {
        try run(guards: .off, name: "matchesBFSWithGuardsOff")
    }

    @Test func matchesBFSWithGuardsOn() throws {
        // Tight caps, so refusals happen often.
        let guards = Guards(capsByKind: [.userID: 1, .phone: 2, .email: 2, .cookie: 3, .gaClientID: 2], identifiersMax: 9)
        try run(guards: guards, name: "matchesBFSWithGuardsOn")
    }

    @Test func matchesBFSWithStandardGuards() throws {
        try run(guards: .standard, name: "matchesBFSWithStandardGuards")
    }
}
