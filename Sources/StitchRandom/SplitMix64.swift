/// SplitMix64: a tiny, fast, seedable generator; good enough for traffic
/// shapes, and the same sequence on every platform for a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's state; equal states give equal sequences.
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A full 64-bit value (an event id, say).
    public mutating func nextValue() -> UInt64 { next() }

    /// Uniform in 0..<bound.
    public mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// A seed for substream `index` of `seed`: two (seed, index) pairs give
    /// unrelated seeds, so runs whose seeds differ by 1 share no stream (a
    /// plain `seed + index` made run 101's connection 0 replay run 100's
    /// connection 1).
    public static func substreamSeed(_ seed: UInt64, index: UInt64) -> UInt64 {
        var mixer = SplitMix64(seed: seed)
        var inner = SplitMix64(seed: mixer.next() ^ index)
        return inner.next()
    }

    /// True with probability `percent`/100.
    public mutating func chance(_ percent: Int) -> Bool {
        next(below: 100) < percent
    }
}
