import Benchmark

/// Entry point found by package-benchmark's plugin.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )
    wireBenchmarks()
    identityBenchmarks()
    graphBenchmarks()
    repairBenchmarks()
    attributionBenchmarks()
}
