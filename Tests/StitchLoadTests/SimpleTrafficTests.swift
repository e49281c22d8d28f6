import StitchRandom
import StitchWire
import Testing

import StitchLoad

@Suite("Simple traffic")
struct SimpleTrafficTests {
    /// The sessions of `count` beacons of each connection of a load run with `seed`.
    private func sessions(seed: UInt64, connections: Int, count: Int, random: Bool = false) -> Set<String> {
        var all: Set<String> = []
        for index in 0..<connections {
            var traffic = SimpleTraffic(
                seed: SplitMix64.substreamSeed(seed, index: UInt64(index)), sites: 2, persons: 1000, startMs: 0,
                randomSessionIDs: random)
            for _ in 0..<count {
                let beacon = traffic.next()
                all.formUnion(beacon.identifiers.filter { $0.kind == .session }.map(\.value))
            }
        }
        return all
    }

    /// Runs with adjacent seeds must not replay each other's sessions: a
    /// second run would then find its identifiers stored already and look
    /// faster than a first one (this skewed a measured dedup cost from ~3% to ~21%).
    @Test func adjacentSeedsShareNoSession() {
        let first = sessions(seed: 100, connections: 4, count: 5000)
        let second = sessions(seed: 101, connections: 4, count: 5000)
        #expect(!first.isEmpty)
        #expect(first.isDisjoint(with: second))
        #expect(sessions(seed: 100, connections: 4, count: 5000) == first)  // and a seed still replays itself
    }

    @Test("random session ids look like the tracker's (24 hex digits), are not in order, and still replay by seed")
    func randomSessionIDsAreTheTrackers() {
        let first = sessions(seed: 100, connections: 2, count: 5000, random: true)
        #expect(first.count > 300)
        #expect(first.allSatisfy { $0.count == 24 && $0.allSatisfy(\.isHexDigit) })
        #expect(sessions(seed: 100, connections: 2, count: 5000, random: true) == first)
        #expect(first.isDisjoint(with: sessions(seed: 101, connections: 2, count: 5000, random: true)))
        // In start order, counter names sort too; random ones are out of order about half the time.
        var traffic = SimpleTraffic(seed: 7, sites: 1, persons: 1000, activeVisits: 1, startMs: 0, randomSessionIDs: true)
        var started: [String] = []
        while started.count < 200 {
            let session = traffic.next().identifiers.first { $0.kind == .session }!.value
            if started.last != session { started.append(session) }
        }
        let descents = zip(started, started.dropFirst()).filter { $0 > $1 }.count
        #expect(descents > 60 && descents < 140, "\(descents) of 199 steps go down")
    }

    @Test func substreamSeedsDiffer() {
        var seen: Set<UInt64> = []
        for seed in 0..<64 as Range<UInt64> {
            for index in 0..<64 as Range<UInt64> { seen.insert(SplitMix64.substreamSeed(seed, index: index)) }
        }
        #expect(seen.count == 64 * 64)
    }
}
