import Foundation
import StitchRandom

/// The seeded generator of randomized tests: the load harness's SplitMix64,
/// so the same seed gives the same sequence on every machine and a failure
/// replays exactly.
public typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    /// A generator seeded from `STITCH_TEST_SEED` when set, else from a fresh
    /// random seed. Prints the seed with the test's name either way, so a
    /// failing run can be replayed with `STITCH_TEST_SEED=… swift test`.
    public static func forTest(_ name: String) -> SplitMix64 {
        let fromEnvironment = ProcessInfo.processInfo.environment["STITCH_TEST_SEED"].flatMap { UInt64($0) }
        let seed = fromEnvironment ?? UInt64.random(in: 1...UInt64.max)
        print("\(name): seed \(seed) (replay with STITCH_TEST_SEED=\(seed))")
        return SplitMix64(seed: seed)
    }
}
