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
/// A refused frame is answered with an ERROR frame in its turn (after the
/// replies owed to earlier frames) and the stream goes on; a fatal framing
/// error (from the frame decoder) is answered and the connection closed.
///
/// Backpressure: when the queue is full the batch waits here and the handler
/// stops asking the socket for more bytes until the writer makes room; reads
/// also stop while the client does not read its replies (the channel is not
/// writable) or too many replies are owed. A batch refused over its site's
/// quota pauses reading until the site's budget has room again (at most
/// `quotaPauseMax`), and frames already read in that
/// time are refused the same way without being decoded: a flood that ignores
/// the refusals is slowed at the socket instead of being inflated, decoded
/// and refused at full speed on the event loop other sites' batches share.
final class IngestTCPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let queue: IngestQueue
    private let logger: Logger
    private var intake: BatchIntake
    private let metrics: ServerMetrics
    private let encoder = FrameEncoder()
    private var state: IngestConnectionStateMachine
    private var context: ChannelHandlerContext?
    /// Inside `channelRead`: replies written now are flushed once, when the
    /// socket read completes, not one system call each.
    private var inRead = false
    private var flushOwed = false
    /// The Sendable face of this handler that the writer and the server use.
    private(set) var connection: IngestConnection?

    /// Whether this connection is counted in `stitch_ingest_connections_reads_held`.
    private var readsHeldCounted = false
    /// The longest a connection is not read after a batch refused over quota.
    static let quotaPauseMax = TimeAmount.milliseconds(250)
    /// Reading is paused until this time (a batch was over quota), and
    /// frames read meanwhile are refused with `overQuota` unread.
    private var pausedUntil: NIODeadline?
    private var overQuota: FrameError?
    /// A read asked for during the pause, issued when it ends.
    private var readOwedAfterPause = false

    init(queue: IngestQueue, intake: BatchIntake, metrics: ServerMetrics, logger: Logger, repliesOwedMax: Int = 1024) {
        self.state = IngestConnectionStateMachine(repliesOwedMax: repliesOwedMax)
        self.queue = queue
        self.intake = intake
        self.metrics = metrics
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
        inRead = true
        defer { inRead = false }
        if let pausedUntil, let overQuota, pausedUntil > .now() {
            intake.rejected(overQuota)
            perform(state.frameRefused(overQuota.wireMessage, sequence: frame.header.sequence))
            return
        }
        switch intake.intake(frame, replyTo: connection) {
        case .success(let item):
            perform(state.batchArrived(item, offer: queue.offer))
        case .failure(let error):
            if case .overQuota(_, _, let retryAfterMs) = error {
                pausedUntil = .now() + min(.milliseconds(Int64(retryAfterMs)), Self.quotaPauseMax)
                overQuota = error
            }
            perform(state.frameRefused(error.wireMessage, sequence: frame.header.sequence))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if flushOwed {
            flushOwed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        perform(state.writabilityChanged(context.channel.isWritable))
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            // Only stream-fatal errors reach here (the frame decoder throws no
            // others): answer, then close, since the next frame cannot be found.
            intake.rejected(frameError)
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
        state.channelClosed()
        if readsHeldCounted {
            readsHeldCounted = false
            metrics.ingestReadsHeld.decrement()
        }
        context.fireChannelInactive()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if let pausedUntil, pausedUntil > .now() {
            guard !readOwedAfterPause else { return }
            readOwedAfterPause = true
            context.eventLoop.assumeIsolated().scheduleTask(deadline: pausedUntil) { [self] in
                readOwedAfterPause = false
                self.pausedUntil = nil
                if let context = self.context { read(context: context) }
            }
            return
        }
        perform(state.readRequested())
    }

    // MARK: Called through IngestConnection

    /// Writes the writer's outcomes for this connection's batches.
    func deliver(_ outcomes: [BatchOutcome]) {
        perform(state.answered(outcomes))
    }

    /// Stop reading: the server is shutting down. Batches already queued are
    /// committed and answered; then the connection closes.
    func beginShutdown() {
        perform(state.shutdownBegan())
    }

    /// The queue may have room: hand over waiting batches, then read again.
    func retryWaiting() {
        perform(state.roomAvailable(offer: queue.offer))
    }

    // MARK: Carrying out actions

    private func perform(_ action: IngestConnectionStateMachine.Action) {
        if state.readHeld != readsHeldCounted, context != nil {
            readsHeldCounted = state.readHeld
            if readsHeldCounted { metrics.ingestReadsHeld.increment() } else { metrics.ingestReadsHeld.decrement() }
        }
        if !action.write.isEmpty { write(action.write) }
        if action.waitForRoom, let connection {
            queue.whenSpace { connection.retryWaiting() }
        }
        guard let context else { return }
        if action.read { context.read() }
        if action.close {
            // Close only after the last ack is written out.
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    /// Writes replies in order, in one buffer and one flush.
    private func write(_ replies: [IngestConnectionStateMachine.Reply]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: replies.count * 48)
        // Acks and errors are small (an ack lists at most 4,096 rejections and
        // refusals of bounded size): they cannot break the frame limits.
        for reply in replies {
            switch reply {
            case .outcome(.committed(let sequence, let ack)):
                try! encoder.encode(ack, type: .ack, sequence: sequence, into: &buffer)
            case .outcome(.refused(let sequence, let error)), .error(let error, let sequence):
                if error.code == .shuttingDown { metrics.frameRejected(reason: "shutting_down", transport: "tcp") }
                try! encoder.encode(error, type: .error, sequence: sequence, into: &buffer)
            }
        }
        if inRead {
            context.write(wrapOutboundOut(buffer), promise: nil)
            flushOwed = true
        } else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    private func writeError(_ message: Stitch_V1_FrameError, sequence: UInt64) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        try! encoder.encode(message, type: .error, sequence: sequence, into: &buffer)  // small message
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
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
