import DequeModule
import Logging
import NIOCore
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire

/// One TCP collector connection (FRAMING.md "Transports", "Acknowledgements").
///
/// Sits after a `ByteToMessageHandler(FrameDecoder())`, so it sees whole
/// frames. It decodes and validates each batch on the event loop, hands it to
/// the writer's queue, and writes the ack when the writer reports the commit.
/// A refused frame is answered with an ERROR frame at once and the stream goes
/// on; a fatal framing error (from the frame decoder) is answered and the
/// connection closed.
///
/// Backpressure: when the queue is full the batch waits here and the handler
/// stops asking the socket for more bytes until the writer makes room.
final class IngestTCPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let queue: IngestQueue
    private let metrics: ServerMetrics
    private let logger: Logger
    private let decoder = BatchDecoder()
    private var preparer: EventPreparer
    private let clockMs: @Sendable () -> Int64
    private let encoder = FrameEncoder()
    private var context: ChannelHandlerContext?
    /// The Sendable face of this handler that the writer and the server use.
    private(set) var connection: IngestConnection?

    /// Decoded batches the queue had no room for yet, in arrival order.
    private var waiting = Deque<IngestItem>()
    /// Batches handed to the writer and not yet answered.
    private var unanswered = 0
    /// A `read` the pipeline asked for while paused; passed on on resume.
    private var readHeld = false
    private var stopping = false

    init(
        queue: IngestQueue, metrics: ServerMetrics, logger: Logger, preparer: EventPreparer,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.queue = queue
        self.metrics = metrics
        self.preparer = preparer
        self.clockMs = clockMs
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connection = IngestConnection(handler: NIOLoopBound(self, eventLoop: context.eventLoop), channel: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        connection = nil  // breaks the handler ↔ connection cycle
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        metrics.tcpBatches.increment()
        let batch: DecodedBatch
        do {
            batch = try decoder.decode(frame)
        } catch {
            metrics.frameRejected(reason: error.code, transport: "tcp")
            writeError(error.wireMessage, sequence: frame.header.sequence)
            return
        }
        metrics.beaconsReceived.increment(by: batch.beacons.count + batch.rejections.count)
        for rejection in batch.rejections {
            metrics.beaconRejected(reason: rejection.reason.rawValue)
        }
        let item = IngestItem(events: prepare(batch.beacons), sequence: batch.sequence, ack: batch.ack, replyTo: connection)
        if waiting.isEmpty && !stopping {
            switch queue.offer(item) {
            case .accepted:
                unanswered += 1
                return
            case .closed:
                refuse(item)
                return
            case .full:
                break
            }
        }
        waiting.append(item)
        if waiting.count == 1 { waitForRoom() }
    }

    /// Normalizes and encodes accepted beacons here, on the event loop.
    private func prepare(_ beacons: [Stitch_V1_Beacon]) -> [PreparedEvent] {
        let receivedMs = clockMs()
        return beacons.map { preparer.prepare($0, receivedMs: receivedMs) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            // Only stream-fatal errors reach here (the frame decoder throws no
            // others): answer, then close, since the next frame cannot be found.
            metrics.frameRejected(reason: frameError.code, transport: "tcp")
            var message = frameError.wireMessage
            message.closing = true
            writeError(message, sequence: 0)
            logger.notice("closing ingest connection \(context.remoteAddress.map { "\($0)" } ?? "?"): \(frameError)")
        } else {
            logger.debug("ingest connection error: \(error)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Batches still queued are committed anyway; their acks have nowhere
        // to go, which is what FRAMING.md tells clients to expect.
        waiting.removeAll()
        context.fireChannelInactive()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty && !stopping {
            context.read()
        } else {
            readHeld = true
        }
    }

    // MARK: Called through IngestConnection

    /// Writes the writer's outcomes for this connection's batches.
    func deliver(_ outcomes: [BatchOutcome]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: outcomes.count * 48)
        for outcome in outcomes {
            switch outcome {
            case .committed(let sequence, let ack):
                try! encoder.encode(ack, type: .ack, sequence: sequence, into: &buffer)  // small: cannot break limits
            case .refused(let sequence, let error):
                try! encoder.encode(error, type: .error, sequence: sequence, into: &buffer)
            }
        }
        unanswered -= outcomes.count
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        closeIfStoppedAndAnswered()
    }

    /// Stop reading: the server is shutting down. Batches already queued are
    /// committed and answered; then the connection closes.
    func beginShutdown() {
        stopping = true
        closeIfStoppedAndAnswered()
    }

    /// The queue may have room: hand over waiting batches, then read again.
    func retryWaiting() {
        while let item = waiting.first {
            switch queue.offer(item) {
            case .accepted:
                waiting.removeFirst()
                unanswered += 1
            case .full:
                waitForRoom()
                return
            case .closed:
                waiting.removeFirst()
                refuse(item)
            }
        }
        if readHeld && !stopping, let context {
            readHeld = false
            context.read()
        }
        closeIfStoppedAndAnswered()
    }

    // MARK: Helpers

    private func waitForRoom() {
        guard let connection else { return }
        queue.whenSpace { connection.retryWaiting() }
    }

    /// A batch the server will not store: the server is stopping.
    private func refuse(_ item: IngestItem) {
        let message = Stitch_V1_FrameError.with {
            $0.code = .overloaded
            $0.message = "server is shutting down; resend this batch to a running server"
            $0.closing = true
        }
        metrics.frameRejected(reason: "overloaded", transport: "tcp")
        writeError(message, sequence: item.sequence)
    }

    private func writeError(_ message: Stitch_V1_FrameError, sequence: UInt64) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        try! encoder.encode(message, type: .error, sequence: sequence, into: &buffer)  // small message
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func closeIfStoppedAndAnswered() {
        guard stopping, unanswered == 0, waiting.isEmpty, let context else { return }
        // Close only after the last ack is written out.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// The Sendable face of an ingest connection: the writer delivers acks to it
/// from its thread, the server tells it to shut down; both hop onto the
/// connection's event loop.
final class IngestConnection: AckTarget {
    private let handler: NIOLoopBound<IngestTCPHandler>
    let channel: any Channel

    init(handler: NIOLoopBound<IngestTCPHandler>, channel: any Channel) {
        self.handler = handler
        self.channel = channel
    }

    func deliver(_ outcomes: [BatchOutcome]) {
        channel.eventLoop.execute { self.handler.value.deliver(outcomes) }
    }

    func retryWaiting() {
        channel.eventLoop.execute { self.handler.value.retryWaiting() }
    }

    func beginShutdown() {
        channel.eventLoop.execute { self.handler.value.beginShutdown() }
    }
}
