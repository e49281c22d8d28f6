import NIOCore
import StitchWire
import Testing

/// A device-clock batch's times are re-based on the collector's clock
/// (proto/FRAMING.md, "Event times"); every other batch is stored as sent.
@Suite struct DeviceClockTests {
    static let received = Fixtures.receivedMs

    /// One frame holding `beacons`, sent at `sentMs` by a clock of `clock`.
    static func frame(_ beacons: [Stitch_V1_Beacon], sentMs: Int64, clock: Stitch_V1_ProducerClock) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        let batch = Stitch_V1_BeaconBatch.with {
            $0.beacons = beacons
            $0.sentMs = sentMs
            $0.clock = clock
        }
        try FrameEncoder().encode(batch, type: .batch, sequence: 1, compressed: false, into: &buffer)
        return buffer
    }

    static func beacon(at deviceMs: Int64) -> Stitch_V1_Beacon {
        var beacon = Fixtures.visit
        beacon.timeMs = deviceMs
        return beacon
    }

    @Test("a device 20 minutes slow and one 3 hours fast: each time is placed by how long before sending it happened")
    func rebasesBySentTime() throws {
        for skew: Int64 in [-20 * 60_000, 3 * 3_600_000, 0] {
            let sent = Self.received + skew
            // A visit 10 s before sending, and one kept an hour (a retry).
            let decoded = try decodeBatch(try Self.frame(
                [Self.beacon(at: sent - 10_000), Self.beacon(at: sent - 3_600_000)], sentMs: sent, clock: .device))
            #expect(decoded.rejections == [])
            #expect(decoded.beacons.map(\.timeMs) == [Self.received - 10_000, Self.received - 3_600_000], "skew \(skew)")
            #expect(decoded.beacons.map(\.deviceTimeMs) == [sent - 10_000, sent - 3_600_000], "the device's own times are kept")
            #expect(decoded.clock == .device(offsetMs: -skew, receivedMs: Self.received))
        }
    }

    @Test("a time after the batch was sent is placed at its arrival, never later")
    func neverAfterReceived() throws {
        let sent = Self.received - 60_000
        let decoded = try decodeBatch(try Self.frame([Self.beacon(at: sent + 30_000)], sentMs: sent, clock: .device))
        #expect(decoded.beacons.first?.timeMs == Self.received)
        #expect(decoded.beacons.first?.deviceTimeMs == sent + 30_000)
    }

    @Test("a call's start in a device batch moves with its time")
    func rebasesCallStart() throws {
        let sent = Self.received + 3 * 3_600_000
        var call = Self.beacon(at: sent - 5_000)
        call.call = .with {
            $0.trackingNumber = "+74951000001"
            $0.startedAtMs = sent - 65_000
        }
        let decoded = try decodeBatch(try Self.frame([call], sentMs: sent, clock: .device))
        #expect(decoded.beacons.first?.call.startedAtMs == Self.received - 65_000)
    }

    @Test("trusted, unspecified and unsent clocks keep times as sent")
    func trustedKeepsTimes() throws {
        let time = Fixtures.time - 7_200_000
        for (sent, clock) in [(Self.received + 999_000, Stitch_V1_ProducerClock.trusted), (Self.received + 999_000, .unspecified), (0, .device)] {
            let decoded = try decodeBatch(try Self.frame([Self.beacon(at: time)], sentMs: sent, clock: clock))
            #expect(decoded.beacons.first?.timeMs == time, "\(clock) sent \(sent)")
            #expect(decoded.beacons.first?.deviceTimeMs == 0)
            #expect(decoded.clock == .asSent)
        }
    }

    @Test("a trusted re-send keeps the device time it carries (an import of stored events)")
    func importKeepsDeviceTime() throws {
        var beacon = Self.beacon(at: Fixtures.time)
        beacon.deviceTimeMs = Fixtures.time + 10_800_000
        let decoded = try decodeBatch(try Self.frame([beacon], sentMs: 0, clock: .trusted))
        #expect(decoded.beacons == [beacon])
    }

    @Test("a device batch whose sent_ms is no time, or whose time falls before 1970, is rejected BAD_TIME per beacon")
    func badTimes() throws {
        for sent: Int64 in [-5, 7_258_118_400_001] {
            let decoded = try decodeBatch(try Self.frame([Self.beacon(at: Fixtures.time), Self.beacon(at: Fixtures.time)], sentMs: sent, clock: .device))
            #expect(decoded.beacons == [])
            #expect(decoded.rejections.map(\.reason) == [.badTime, .badTime])
            #expect(decoded.rejections.first?.detail.contains("sent_ms") == true)
            #expect(decoded.clock.offsetLabel == "invalid")
        }
        // Sent in 2200 by the device, stamped in 1971: 229 years before arrival.
        let decoded = try decodeBatch(try Self.frame(
            [Self.beacon(at: 31_536_000_000), Self.beacon(at: 7_258_118_399_000)], sentMs: 7_258_118_400_000, clock: .device))
        #expect(decoded.rejections.map(\.index) == [0])
        #expect(decoded.rejections.first?.reason == .badTime)
        #expect(decoded.beacons.first?.timeMs == Self.received - 1_000)
    }

    @Test("offset labels: under a minute, under an hour, more")
    func offsetLabels() {
        #expect(BatchClock.device(offsetMs: -59_999, receivedMs: 1).offsetLabel == "under_1m")
        #expect(BatchClock.device(offsetMs: 1_200_000, receivedMs: 1).offsetLabel == "1m_to_1h")
        #expect(BatchClock.device(offsetMs: -10_800_000, receivedMs: 1).offsetLabel == "over_1h")
        #expect(BatchClock.asSent.offsetLabel == nil)
    }
}
