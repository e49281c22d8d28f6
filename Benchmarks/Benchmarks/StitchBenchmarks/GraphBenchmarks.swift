import Benchmark
import Foundation
import StitchGraph
import StitchIdentity
import StitchStore
import StitchWire

/// Persons in the store the graph benchmarks run against.
let graphPersons = 100_000
/// Events per apply, lookups per iteration.
let graphBatch = 1_000
/// The visitor whose history is read.
let historyVisitor = 4242

/// A store filled once per benchmark (setup) and removed after (teardown).
/// The benchmark runner calls setup, iterations and teardown in order on one
/// task, so the unsynchronized global is not shared across threads.
nonisolated(unsafe) var graphFixture: (graph: IdentityGraph, directory: String)?

func makeGraphFixture() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-bench-\(UUID().uuidString.prefix(8))").path
    let graph = try IdentityGraph(path: directory, storeOptions: StoreOptions(mapBytes: 1 << 30, durability: .nosync))
    for start in stride(from: 0, to: graphPersons, by: 10_000) {
        try graph.apply((start..<start + 10_000).map { visitorHit(person: $0, session: "fill-\($0)") }, receivedMs: 1)
    }
    // One regular visitor with 300 events over 30 sessions, for the history benchmark.
    try graph.apply((0..<300).map { visitorHit(person: historyVisitor, session: "regular-\($0 / 10)") }, receivedMs: 1)
    graphFixture = (graph, directory)
}

func dropGraphFixture() {
    guard let (graph, directory) = graphFixture else { return }
    graph.close()
    try? FileManager.default.removeItem(atPath: directory)
    graphFixture = nil
}

func visitorHit(person: Int, session: String) -> Stitch_V1_Beacon {
    .with {
        $0.site = 1
        $0.timeMs = 1_767_225_600_000 + Int64(person)
        $0.identifiers = [
            .with {
                $0.kind = .cookie
                $0.value = "c7Hq2x9LmP\(1_000_000 + person)"
            },
            .with {
                $0.kind = .session
                $0.value = "s9Kd\(session)"
            },
        ]
        $0.hit = .with { $0.url = "https://shop.example.ru/catalog/\(person % 300)" }
    }
}

func graphBenchmarks() {
    Benchmark(
        "Graph: apply \(graphBatch) hits of known visitors in new sessions (\(graphPersons / 1000)k persons, nosync)",
        closure: { benchmark in
            guard let graph = graphFixture?.graph else { return }
            var round = 0
            for _ in benchmark.scaledIterations {
                round += 1
                let beacons = (0..<graphBatch).map { index in
                    visitorHit(person: (index * 7919 + round * 104_729) % graphPersons, session: "r\(round)-\(index)")
                }
                benchmark.startMeasurement()
                blackHole(try graph.apply(beacons, receivedMs: 1))
                benchmark.stopMeasurement()
            }
        },
        setup: makeGraphFixture, teardown: dropGraphFixture)

    Benchmark(
        "Graph: lookup \(graphBatch) cookies (\(graphPersons / 1000)k persons)",
        closure: { benchmark in
            guard let graph = graphFixture?.graph else { return }
            let identifiers = (0..<graphBatch).map {
                NormalizedIdentifier(uncheckedKind: .cookie, value: "c7Hq2x9LmP\(1_000_000 + ($0 * 7919) % graphPersons)")
            }
            for _ in benchmark.scaledIterations {
                for identifier in identifiers {
                    blackHole(try graph.lookup(site: 1, identifier: identifier))
                }
            }
        },
        setup: makeGraphFixture, teardown: dropGraphFixture)

    Benchmark(
        "Graph: history, newest 100 of a visitor's 300 events in 30 sessions (\(graphPersons / 1000)k persons)",
        closure: { benchmark in
            guard let graph = graphFixture?.graph else { return }
            let identifier = NormalizedIdentifier(uncheckedKind: .cookie, value: "c7Hq2x9LmP\(1_000_000 + historyVisitor)")
            for _ in benchmark.scaledIterations {
                blackHole(try graph.history(site: 1, identifier: identifier, query: HistoryQuery(limit: 100, newestFirst: true)))
            }
        },
        setup: makeGraphFixture, teardown: dropGraphFixture)
}
