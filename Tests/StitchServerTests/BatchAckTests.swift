import NIOCore
import StitchBeacon
@testable import StitchServer
import StitchWire
import Testing

/// The acks the collector sends, assembled by the production code on both
/// sides of the commit: `BatchIntake` (decode, prepare, refuse) and
/// `IngestItem.completedAcks` (the graph's repeats and suppressions, back in
/// the positions of each batch's own beacons).
@Suite("Batch acks")
struct BatchAckTests {
    static func frame(_ beacons: [Stitch_V1_Beacon], sequence: UInt64) throws -> Frame {
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        try FrameEncoder().encode(Stitch_V1_BeaconBatch.with { $0.beacons = beacons }, type: .batch, sequence: sequence, into: &buffer)
        var frames: [Frame] = []
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        try processor.process(buffer: buffer) { frames.append($0) }
        return try #require(frames.first)
    }

    static func intake() -> BatchIntake {
        BatchIntake(transport: .tcp, preparer: EventPreparer(rules: FixedJunkRules()), metrics: ServerMetrics(), clockMs: { 1_767_225_600_000 })
    }

    @Test("intake: rejections sorted by beacon, refused identifiers listed, accepted counts what goes to the writer")
    func intakeAck() throws {
        var noSite = Beacons.hit(timeMs: 1_767_225_600_000, cookie: "cookie-ack-1", session: "session-ack-1")
        noSite.site = 0
        var junk = Beacons.hit(timeMs: 1_767_225_600_000, cookie: "undefined", session: "null")
        junk.eventID = 9
        let good = Beacons.form(timeMs: 1_767_225_600_000, cookie: "cookie-ack-2", phone: "000")
        var intake = Self.intake()
        let item = try intake.intake(try Self.frame([junk, noSite, good], sequence: 4), replyTo: nil).get()
        #expect(item.sequence == 4 && item.beaconIndexes == [2] && item.events.count == 1)
        #expect(item.ack.accepted == 1 && item.ack.rejected == 2)
        #expect(item.ack.rejections.map(\.index) == [0, 1])
        #expect(item.ack.rejections.map(\.reason) == [.noIdentifiers, .missingSite])
        #expect(item.ack.refusedIdentifiers.map(\.index) == [0, 0, 2] && item.ack.identifiersRefused == 3)
    }

    @Test("commit: a group's repeats and suppressions go back to their batches, by each batch's own beacon index")
    func completedAcks() throws {
        var intake = Self.intake()
        func batch(_ cookies: [String], sequence: UInt64) throws -> IngestItem {
            try intake.intake(try Self.frame(cookies.map {
                Beacons.hit(timeMs: 1_767_225_600_000, cookie: $0, session: $0 == "undefined" ? "null" : "session-" + $0)
            }, sequence: sequence), replyTo: nil).get()
        }
        // Batch 1: beacons 0…2; batch 2: beacon 0 has no identifier (not an event), 1…3 are.
        let first = try batch(["cookie-a1", "cookie-a2", "cookie-a3"], sequence: 1)
        let second = try batch(["undefined", "cookie-b1", "cookie-b2", "cookie-b3"], sequence: 2)
        #expect(second.beaconIndexes == [1, 2, 3])
        // The group's events: 0…2 are batch 1's, 3…5 batch 2's.
        let outcomes = IngestItem.completedAcks(of: [first, second], repeats: [1, 3, 5], suppressed: [4])
        guard case .committed(let sequence1, let ack1) = outcomes[0], case .committed(let sequence2, let ack2) = outcomes[1] else {
            Issue.record("not committed: \(outcomes)")
            return
        }
        #expect(sequence1 == 1 && ack1.repeatIndexes == [1] && ack1.repeated == 1 && ack1.accepted == 2 && ack1.suppressed == 0)
        #expect(sequence2 == 2 && ack2.repeatIndexes == [1, 3] && ack2.repeated == 2 && ack2.suppressed == 1)
        #expect(ack2.accepted == 0 && ack2.rejected == 1, "three events: two repeats, one suppressed; the junk beacon stays rejected")
    }
}
