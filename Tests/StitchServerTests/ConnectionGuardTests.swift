import NIOCore
import NIOEmbedded
import StitchWire
import Testing

@testable import StitchServer

/// The connection guard on an EmbeddedChannel with virtual time: what counts
/// as idle and as a frame left half-sent.
@Suite("Connection guard timeouts")
struct ConnectionGuardTests {
    static let idle = TimeAmount.seconds(10)
    static let partialFrame = TimeAmount.seconds(3)

    static func guarded() throws -> (EmbeddedChannel, ServerMetrics) {
        let metrics = ServerMetrics()
        let handler = ConnectionGuard(port: "ingest", metrics: metrics, timeouts: .init(idle: idle, partialFrame: partialFrame))
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, metrics)
    }

    /// A frame of `payloadBytes` zero bytes behind a header whose length says so.
    static func frame(payloadBytes: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: FrameHeader.byteCount + payloadBytes)
        buffer.writeRepeatingByte(0, count: 16)
        buffer.writeInteger(UInt32(payloadBytes))
        buffer.writeRepeatingByte(0, count: FrameHeader.byteCount - 20 + payloadBytes)
        return buffer
    }

    static func timedOut(_ metrics: ServerMetrics, _ reason: String) -> UInt64 {
        metrics.counter(.connectionsTimedOut, [("port", "ingest"), ("reason", reason)]).value
    }

    @Test("a connection owed a reply is not idle however long the answer takes; once answered, the idle clock runs")
    func owedReplyIsNotIdle() throws {
        let (channel, metrics) = try Self.guarded()
        try channel.writeInbound(Self.frame(payloadBytes: 40))
        channel.embeddedEventLoop.advanceTime(by: Self.idle * 3)
        #expect(channel.isActive, "a batch waiting for its commit keeps the connection")

        try channel.writeOutbound(Self.frame(payloadBytes: 12))  // the ack
        #expect(try channel.readOutbound(as: ByteBuffer.self)?.readableBytes == FrameHeader.byteCount + 12)
        channel.embeddedEventLoop.advanceTime(by: Self.idle - .seconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive, "answered and then silent for the idle timeout")
        #expect(Self.timedOut(metrics, "idle") == 1)
    }

    @Test("a frame split across reads is whole in time; one left half-sent is closed at partial_frame_timeout")
    func partialFrame() throws {
        let (channel, metrics) = try Self.guarded()
        var frame = Self.frame(payloadBytes: 100)
        // Byte by byte through the header, then the payload in two parts.
        for _ in 0..<FrameHeader.byteCount { try channel.writeInbound(frame.readSlice(length: 1)!) }
        try channel.writeInbound(frame.readSlice(length: 60)!)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        try channel.writeInbound(frame.readSlice(length: 40)!)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(channel.isActive, "the frame was whole within 3 s")

        // Two frames and the start of a third in one read.
        var reads = Self.frame(payloadBytes: 5)
        reads.writeImmutableBuffer(Self.frame(payloadBytes: 0))
        reads.writeImmutableBuffer(Self.frame(payloadBytes: 7).getSlice(at: 0, length: 30)!)
        try channel.writeInbound(reads)
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(!channel.isActive)
        #expect(Self.timedOut(metrics, "partial_frame") == 1)
    }
}
