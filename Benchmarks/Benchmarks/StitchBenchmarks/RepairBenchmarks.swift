import Benchmark
import Foundation
import StitchGraph
import StitchIdentity
import StitchStore
import StitchWire

/// Visitors glued by one shared phone: each brings a cookie and a session,
/// so the person holds 1 + 2 × 5,000 = 10,001 identifiers (10,000 events).
let repairVisitors = 5_000
let repairPhone = "+74950000001"

nonisolated(unsafe) var repairFixture: (graph: IdentityGraph, directory: String)?

func makeRepairFixture() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-bench-\(UUID().uuidString.prefix(8))").path
    // Guards and the automatic rule off: the blob must form to be repaired.
    let configuration = GraphConfiguration(defaultRules: SiteRules(guards: .off, hub: .off))
    let graph = try IdentityGraph(path: directory, configuration: configuration, storeOptions: StoreOptions(mapBytes: 1 << 30, durability: .nosync))
    var beacons: [Stitch_V1_Beacon] = []
    for visitor in 0..<repairVisitors {
        beacons.append(visitorHit(person: visitor, session: "repair-\(visitor)"))
        beacons.append(.with {
            $0.site = 1
            $0.timeMs = 1_767_225_700_000 + Int64(visitor)
            $0.identifiers = [.with { $0.kind = .cookie; $0.value = "c7Hq2x9LmP\(1_000_000 + visitor)" }]
            $0.form = .with { $0.formID = "callback"; $0.phone = repairPhone }
        })
    }
    try graph.apply(beacons, receivedMs: 1)
    let size = try graph.lookup(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: repairPhone))?.identifierCount
    precondition(size == UInt64(1 + 2 * repairVisitors), "the fixture's person holds \(size ?? 0) identifiers")
    repairFixture = (graph, directory)
}

func dropRepairFixture() {
    guard let (graph, directory) = repairFixture else { return }
    graph.close()
    try? FileManager.default.removeItem(atPath: directory)
    repairFixture = nil
}

func repairBenchmarks() {
    let phone = NormalizedIdentifier(uncheckedKind: .phone, value: repairPhone)
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock], warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20)

    Benchmark(
        "Repair: quarantine the shared phone of a 10,001-identifier person (split into 5,001 persons, nosync)",
        configuration: configuration,
        closure: { benchmark in
            guard let graph = repairFixture?.graph else { return }
            for _ in benchmark.scaledIterations {
                benchmark.startMeasurement()
                blackHole(try graph.quarantine(site: 1, identifier: phone, reason: "bench", nowMs: IdentityGraph.wallClockMs()))
                benchmark.stopMeasurement()
                _ = try graph.unquarantine(site: 1, identifier: phone, nowMs: IdentityGraph.wallClockMs())
            }
        },
        setup: makeRepairFixture, teardown: dropRepairFixture)

    Benchmark(
        "Repair: release it again (5,000 events relink it into one 10,001-identifier person, nosync)",
        configuration: configuration,
        closure: { benchmark in
            guard let graph = repairFixture?.graph else { return }
            for _ in benchmark.scaledIterations {
                _ = try graph.quarantine(site: 1, identifier: phone, reason: "bench", nowMs: IdentityGraph.wallClockMs())
                benchmark.startMeasurement()
                blackHole(try graph.unquarantine(site: 1, identifier: phone, nowMs: IdentityGraph.wallClockMs()))
                benchmark.stopMeasurement()
            }
        },
        setup: makeRepairFixture, teardown: dropRepairFixture)
}
