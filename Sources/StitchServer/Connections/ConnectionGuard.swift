import NIOCore
import StitchWire

/// The first handler of every TCP connection on the ingest and query ports
/// (admitted by its port's `ConnectionLimiter`): closes it when it idles too
/// long or holds a begun frame too long (slowloris), counted in
/// `stitch_connections_timed_out_total`.
///
/// It follows frame boundaries itself (the 28-byte header's `length` field)
/// without buffering anything, so it knows when a frame is begun and not yet
/// whole; the frame decoder after it still does all the checking. It also
/// counts whole frames in and reply frames out: a connection whose request
/// is still being answered (a batch waiting for its group commit, a heavy
/// query on the pool) is busy, not idle, however long the answer takes.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeouts {
        /// No bytes either way and no reply owed for this long: close.
        var idle: TimeAmount
        /// A begun frame not whole after this long: close.
        var partialFrame: TimeAmount
    }

    private let port: String
    private let metrics: ServerMetrics
    private let timeouts: Timeouts
    private var lastActivityAt = NIODeadline.uptimeNanoseconds(0)
    /// Whole frames received minus reply frames written; above 0 the
    /// connection waits on the server, so the idle clock does not run.
    private var repliesOwed = 0
    private var idleCheck: Scheduled<Void>?
    private var partialFrameTimer: Scheduled<Void>?
    /// Bytes of the current frame's header seen so far (0 at a boundary).
    private var headerSeen = 0
    /// The header's `length` bytes, gathered as they arrive.
    private var lengthBytes: UInt32 = 0
    /// Payload bytes of the current frame still to come.
    private var payloadLeft = 0

    init(port: String, metrics: ServerMetrics, timeouts: Timeouts) {
        self.port = port
        self.metrics = metrics
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard idleCheck == nil else { return }
        lastActivityAt = context.eventLoop.now
        scheduleIdleCheck(context: context, after: timeouts.idle)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        partialFrameTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastActivityAt = context.eventLoop.now
        let wasPartial = isPartial
        follow(bytes)
        if isPartial && !wasPartial {
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            partialFrameTimer = context.eventLoop.scheduleTask(in: timeouts.partialFrame) {
                bound.value.handler.timedOut(context: bound.value.context, reason: "partial_frame")
            }
        } else if !isPartial {
            partialFrameTimer?.cancel()
            partialFrameTimer = nil
        }
        context.fireChannelRead(data)
    }

    /// Inside a frame: some of its header or payload has arrived, not all.
    private var isPartial: Bool { headerSeen > 0 || payloadLeft > 0 }

    /// Walks frame boundaries through `bytes` (header 28 bytes, `length` at 16).
    private func follow(_ bytes: ByteBuffer) {
        var index = bytes.readerIndex
        let end = bytes.writerIndex
        while index < end {
            if payloadLeft > 0 {
                let take = min(payloadLeft, end - index)
                payloadLeft -= take
                index += take
                if payloadLeft == 0 { repliesOwed += 1 }
                continue
            }
            // A whole header at a boundary: read its length and jump.
            if headerSeen == 0, end - index >= FrameHeader.byteCount {
                payloadLeft = Int(bytes.getInteger(at: index + 16, as: UInt32.self)!)
                index += FrameHeader.byteCount
                if payloadLeft == 0 { repliesOwed += 1 }
                continue
            }
            let byte = bytes.getInteger(at: index, as: UInt8.self)!
            if (16..<20).contains(headerSeen) { lengthBytes = lengthBytes << 8 | UInt32(byte) }
            headerSeen += 1
            index += 1
            if headerSeen == FrameHeader.byteCount {
                payloadLeft = Int(lengthBytes)
                headerSeen = 0
                lengthBytes = 0
                if payloadLeft == 0 { repliesOwed += 1 }
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Replies are written as whole frames, one or more per buffer.
        let bytes = unwrapOutboundIn(data)
        var index = bytes.readerIndex
        while bytes.writerIndex - index >= FrameHeader.byteCount {
            repliesOwed = max(0, repliesOwed - 1)
            index += FrameHeader.byteCount + Int(bytes.getInteger(at: index + 16, as: UInt32.self)!)
        }
        if bytes.readableBytes > 0 { lastActivityAt = context.eventLoop.now }
        context.write(data, promise: promise)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, after delay: TimeAmount) {
        // Timers hold the handler until they fire or `channelInactive` cancels them.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            let quiet = context.eventLoop.now - handler.lastActivityAt
            if handler.repliesOwed > 0 {
                handler.scheduleIdleCheck(context: context, after: handler.timeouts.idle)
            } else if quiet >= handler.timeouts.idle {
                handler.timedOut(context: context, reason: "idle")
            } else {
                handler.scheduleIdleCheck(context: context, after: handler.timeouts.idle - quiet)
            }
        }
    }

    private func timedOut(context: ChannelHandlerContext, reason: String) {
        guard context.channel.isActive else { return }
        metrics.counter(.connectionsTimedOut, [("port", port), ("reason", reason)]).increment()
        context.close(promise: nil)
    }
}
