import StitchBeacon
@testable import StitchGraph
import StitchIdentity
import StitchStore
import Testing

/// `apply(segments:first:beforeCommit:)`: `durability = log` waits there
/// for its group log's flush, so a flush that fails must leave the store as
/// if the entry never came — nothing written, no id remembered, the entry
/// still the next one.
@Suite("Log entries and the flush before their commit")
struct LogApplyTests {
    struct FlushFailed: Error {}

    static func segment(_ graph: IdentityGraph, ids: ClosedRange<UInt64>) -> ApplySegment {
        var preparer = EventPreparer(rules: graph)
        let beacons = ids.map { id in
            var beacon = Beacons.hit(time: DedupTests.t0 + Int64(id), [(.cookie, "cookie-\(id)")])
            beacon.eventID = id
            return beacon
        }
        return ApplySegment(events: beacons.map { preparer.prepare($0, receivedMs: DedupTests.t0) }, nowMs: DedupTests.t0)
    }

    @Test("a failing beforeCommit writes nothing; the same entry then applies as new, and a resend of it is a repeat")
    func failedFlushLeavesNothing() throws {
        let test = try TestGraph()
        try test.graph.apply(segments: [Self.segment(test.graph, ids: 1...10)], first: 1)
        var runs = 0
        #expect(throws: FlushFailed.self) {
            try test.graph.apply(segments: [Self.segment(test.graph, ids: 11...20)], first: 2) {
                runs += 1
                throw FlushFailed()
            }
        }
        #expect(runs == 1)
        #expect(try test.graph.appliedLogSequence() == 1)
        #expect(try test.graph.totals().events == 10)
        // The ids of the failed entry were not remembered: they store now.
        let retried = try test.graph.apply(segments: [Self.segment(test.graph, ids: 11...20)], first: 2) { runs += 1 }
        #expect(runs == 2)
        #expect(retried[0].events == 10 && retried[0].repeats.isEmpty)
        let resent = try test.graph.apply(segments: [Self.segment(test.graph, ids: 11...20)], first: 3)
        #expect(resent[0].repeats.count == 10 && resent[0].events == 0)
        #expect(try test.graph.appliedLogSequence() == 3)
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }
}
