// swift-tools-version:6.1
//
// Stitch micro-benchmarks (package-benchmark). A separate package, as in
// swift-nio, so the main package's build and tests never compile the
// benchmark framework. Run from the repository root:
//
//   ops/bench.sh                 # every benchmark, release build
//   ops/bench.sh --filter Wire   # a subset
import PackageDescription

let package = Package(
    name: "stitch-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "stitch", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "StitchBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StitchWire", package: "stitch"),
                .product(name: "StitchIdentity", package: "stitch"),
                .product(name: "StitchGraph", package: "stitch"),
                .product(name: "StitchBeacon", package: "stitch"),
                .product(name: "StitchStore", package: "stitch"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/StitchBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The graph's scale curve: a plain executable, because filling a
        // store to 10M identifiers does not fit package-benchmark's repeated
        // iterations. Run with ops/bench-graph.sh.
        .executableTarget(
            name: "GraphScale",
            dependencies: [
                .product(name: "StitchGraph", package: "stitch"),
                .product(name: "StitchBeacon", package: "stitch"),
                .product(name: "StitchStore", package: "stitch"),
                .product(name: "StitchIdentity", package: "stitch"),
                .product(name: "StitchWire", package: "stitch"),
            ],
            path: "Sources/GraphScale"
        ),
        // What a remembered event id costs on disk, up to 10M ids. Run with ops/bench-dedup.sh.
        .executableTarget(
            name: "DedupCost",
            dependencies: [
                .product(name: "StitchGraph", package: "stitch"),
                .product(name: "StitchStore", package: "stitch"),
                .product(name: "StitchIdentity", package: "stitch"),
            ],
            path: "Sources/DedupCost"
        ),
    ]
)
