import Foundation

/// A seeded random generator (SplitMix64) for randomized tests: the same seed
/// gives the same sequence on every machine, so a failure replays exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The generator's state; equal states give equal sequences.
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// The next pseudo-random number.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator seeded from `STITCH_TEST_SEED` when set, else from a fresh
    /// random seed. Prints the seed with the test's name either way, so a
    /// failing run can be replayed with `STITCH_TEST_SEED=… swift test`.
    public static func forTest(_ name: String) -> SeededGenerator {
        let fromEnvironment = ProcessInfo.processInfo.environment["STITCH_TEST_SEED"].flatMap { UInt64($0) }
        let seed = fromEnvironment ?? UInt64.random(in: 1...UInt64.max)
        print("\(name): seed \(seed) (replay with STITCH_TEST_SEED=\(seed))")
        return SeededGenerator(seed: seed)
    }
}
