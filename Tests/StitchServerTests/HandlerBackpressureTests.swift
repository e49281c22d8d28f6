import StitchBeacon
import Logging
import NIOCore
import NIOEmbedded
import StitchGraph
import StitchWire
import Testing

@testable import StitchServer

/// The collector handlers against a full queue, on an EmbeddedChannel: TCP
/// stops asking for bytes until the writer makes room; UDP drops and counts.
@Suite("Collector handlers and a full queue")
struct HandlerBackpressureTests {
    /// Counts the `read` requests that reach the socket end of the pipeline.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    static func fullQueue() -> IngestQueue {
        let queue = IngestQueue(beaconsMax: 4096)
        var preparer = EventPreparer(rules: FixedJunkRules())
        let event = preparer.prepare(Stitch_V1_Beacon(), receivedMs: 0)
        #expect(queue.offer(IngestItem(events: Array(repeating: event, count: 4096), beaconIndexes: Array(0..<4096), sequence: 1, ack: .init(), replyTo: nil)) == .accepted)
        return queue
    }

    static func frame(sequence: UInt64) throws -> Frame {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        let batch = Stitch_V1_BeaconBatch.with {
            $0.beacons = [Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-full-1", session: "session-full-1")]
        }
        try FrameEncoder().encode(batch, type: .batch, sequence: sequence, into: &buffer)
        let header = try #require(try FrameHeader.peek(in: buffer, limits: .standard))
        return Frame(header: header, payload: buffer.getSlice(at: FrameHeader.byteCount, length: Int(header.length))!)
    }

    static func intake(_ transport: BatchIntake.Transport, _ metrics: ServerMetrics) -> BatchIntake {
        BatchIntake(transport: transport, preparer: EventPreparer(rules: FixedJunkRules()), metrics: metrics, clockMs: { 1 })
    }

    @Test("TCP: a batch that finds the queue full waits, reads stop, and both resume when the writer takes a group")
    func tcpPausesReading() throws {
        let queue = Self.fullQueue()
        let metrics = ServerMetrics()
        let reads = ReadCounter()
        let handler = IngestTCPHandler(
            queue: queue, intake: Self.intake(.tcp, metrics), metrics: metrics, logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handlers: [reads, handler])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()

        channel.read()
        #expect(reads.reads == 1)
        try channel.writeInbound(try Self.frame(sequence: 7))
        #expect(queue.depth == 4096, "the batch could not enter the full queue")
        channel.read()
        #expect(reads.reads == 1, "no more bytes are asked for while a batch waits")

        // The writer takes the queued group: room, a callback, the batch goes in.
        #expect(queue.takeGroup(beaconsMax: 10_000, waitNanoseconds: 0)?.count == 1)
        channel.embeddedEventLoop.run()
        #expect(queue.depth == 1)
        #expect(reads.reads == 2, "the held read is passed on once the batch is queued")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "no ack before the commit")
        _ = try channel.finish()
    }

    @Test("UDP: a datagram that finds the queue full is dropped and counted")
    func udpDrops() throws {
        let queue = Self.fullQueue()
        let metrics = ServerMetrics()
        let channel = EmbeddedChannel(
            handler: IngestUDPHandler(queue: queue, intake: Self.intake(.udp, metrics), metrics: metrics))
        var datagram = ByteBufferAllocator().buffer(capacity: 256)
        let frame = try Self.frame(sequence: 1)
        var header = ByteBufferAllocator().buffer(capacity: 28)
        header.writeRepeatingByte(0, count: FrameHeader.byteCount)
        frame.header.set(in: &header, at: 0)
        datagram.writeBuffer(&header)
        var payload = frame.payload
        datagram.writeBuffer(&payload)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        try channel.writeInbound(AddressedEnvelope(remoteAddress: address, data: datagram))
        #expect(queue.depth == 4096)
        #expect(metrics.udpDroppedBeacons.value == 1)
        #expect(metrics.counterValues().contains { $0.name == "stitch_udp_dropped_beacons_total" && $0.value == 1 })
        _ = try channel.finish()
    }
}
