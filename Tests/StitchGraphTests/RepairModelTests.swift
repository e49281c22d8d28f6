@testable import StitchGraph
import StitchIdentity
import StitchTesting
import StitchWire
import Testing

/// Random ingest, quarantines, releases, erasures and restarts, compared after
/// every step with a plain model: persons are the connected components of the
/// surviving events' identifiers, quarantined identifiers standing alone.
/// Guards and the automatic rule are off so the model is exact; the verifier
/// must pass at every step.
@Suite("Repairs against a model")
struct RepairModelTests {
    struct Model {
        /// Identifiers of each stored event, by seq order.
        var events: [[String]] = []
        /// Identifiers the graph holds a node for.
        var known: Set<String> = []
        var quarantined: Set<String> = []
        var erased: Set<String> = []

        /// Component of every known identifier (its smallest member's name).
        func components() -> [String: String] {
            var parent: [String: String] = [:]
            for id in known { parent[id] = id }
            func find(_ id: String) -> String {
                var top = id
                while parent[top]! != top { top = parent[top]! }
                return top
            }
            for event in events {
                let links = event.filter { !quarantined.contains($0) }
                for other in links.dropFirst() {
                    let a = find(links[0]), b = find(other)
                    if a != b { parent[max(a, b)] = min(a, b) }
                }
            }
            return Dictionary(uniqueKeysWithValues: known.map { ($0, find($0)) })
        }
    }

    /// "kind:value" names for a small pool of identifiers, so links collide.
    static let pool: [String] =
        (0..<24).map { "cookie:cookie-model-\($0)" } + (0..<8).map { "phone:+7916000000\($0)" }
        + (0..<8).map { "email:model\($0)@mail.ru" }

    static func identifier(_ name: String) -> NormalizedIdentifier {
        let parts = name.split(separator: ":", maxSplits: 1)
        let kind: IdentifierKind = parts[0] == "cookie" ? .cookie : parts[0] == "phone" ? .phone : .email
        return NormalizedIdentifier(uncheckedKind: kind, value: String(parts[1]))
    }

    @Test("random merges, quarantines, releases, forgets and re-ingests match a BFS model at every step")
    func matchesModel() throws {
        var random = SeededGenerator.forTest("repair model")
        let test = try TestGraph(configuration: GraphConfiguration(defaultRules: SiteRules(guards: .off, hub: .off, device: .off)))
        var model = Model()
        var time: Int64 = 1_767_225_600_000
        for step in 0..<150 {
            let roll = Int.random(in: 0..<100, using: &random)
            if roll < 55 {
                var beacons: [Stitch_V1_Beacon] = []
                var names: [[String]] = []
                for _ in 0..<Int.random(in: 1...12, using: &random) {
                    var chosen: [String] = []
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        let name = Self.pool.randomElement(using: &random)!
                        if !chosen.contains(name) { chosen.append(name) }
                    }
                    time += 1000
                    beacons.append(Beacons.hit(time: time, chosen.map { (Self.identifier($0).kind, Self.identifier($0).value) }))
                    names.append(chosen)
                }
                let report = try test.apply(beacons)
                var expectedSuppressed: [Int] = []
                for (index, event) in names.enumerated() {
                    if event.contains(where: model.erased.contains) {
                        expectedSuppressed.append(index)
                    } else {
                        model.events.append(event)
                        model.known.formUnion(event)
                    }
                }
                #expect(report.suppressed == expectedSuppressed, "step \(step)")
            } else if roll < 72 {
                let name = Self.pool.randomElement(using: &random)!
                guard !model.erased.contains(name) else { continue }
                _ = try test.graph.quarantine(site: 1, identifier: Self.identifier(name), reason: "model", nowMs: IdentityGraph.wallClockMs())
                model.quarantined.insert(name)
                model.known.insert(name)
            } else if roll < 84 {
                guard let name = model.quarantined.sorted().randomElement(using: &random) else { continue }
                #expect(try test.graph.unquarantine(site: 1, identifier: Self.identifier(name), nowMs: IdentityGraph.wallClockMs())?.changed == true)
                model.quarantined.remove(name)
            } else if roll < 94 {
                guard let name = model.known.sorted().randomElement(using: &random) else { continue }
                let components = model.components()
                let doomed = Set(model.known.filter { components[$0] == components[name] })
                let erasure = try #require(try test.graph.forget(site: 1, identifier: Self.identifier(name), nowMs: IdentityGraph.wallClockMs()))
                let before = model.events.count
                model.events.removeAll { $0.contains(where: doomed.contains) }
                #expect(erasure.events == UInt64(before - model.events.count), "step \(step)")
                #expect(erasure.identifiers == UInt64(doomed.count), "step \(step)")
                model.known.subtract(doomed)
                model.quarantined.subtract(doomed)
                model.erased.formUnion(doomed)
            } else {
                try test.reopen()
            }

            // The graph's persons are the model's components.
            let components = model.components()
            var personOfComponent: [String: UInt64] = [:]
            var componentOfPerson: [UInt64: String] = [:]
            for name in model.known.sorted() {
                let person = try #require(try test.graph.personID(site: 1, identifier: Self.identifier(name)), "step \(step): \(name)")
                let component = components[name]!
                #expect(personOfComponent[component, default: person] == person, "step \(step): \(name) is in another person")
                #expect(componentOfPerson[person, default: component] == component, "step \(step): person \(person) joins two components")
                personOfComponent[component] = person
                componentOfPerson[person] = component
            }
            for name in model.erased { #expect(try test.graph.personID(site: 1, identifier: Self.identifier(name)) == nil) }
            #expect(try test.graph.totals().events == UInt64(model.events.count), "step \(step)")
            #expect(try test.graph.totals().persons == UInt64(Set(components.values).count), "step \(step)")
            let report = try GraphVerifier(graph: test.graph).verify()
            #expect(report.isSound, "step \(step): \(report.violations)")
            if !report.isSound { return }
        }
    }
}
