import NIOCore
import StitchWire

/// The first handler of every TCP connection on the ingest and query ports
/// (admitted by its port's `ConnectionLimiter`): closes it when it idles too
/// long or holds a begun frame too long (slowloris), counted in
/// `stitch_connections_timed_out_total`.
///
/// It follows frame boundaries itself (the 28-byte header's `length` field)
/// without buffering anything, so it knows when a frame is begun and not yet
/// whole; the frame decoder after it still does all the checking.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeouts {
        /// No bytes for this long: close.
        var idle: TimeAmount
        /// A begun frame not whole after this long: close.
        var partialFrame: TimeAmount
    }

    private let port: String
    private let metrics: ServerMetrics
    private let timeouts: Timeouts
    private var lastReadAt = NIODeadline.now()
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
        lastReadAt = .now()
        scheduleIdleCheck(context: context, after: timeouts.idle)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        partialFrameTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastReadAt = .now()
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
                continue
            }
            // A whole header at a boundary: read its length and jump.
            if headerSeen == 0, end - index >= FrameHeader.byteCount {
                payloadLeft = Int(bytes.getInteger(at: index + 16, as: UInt32.self)!)
                index += FrameHeader.byteCount
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
            }
        }
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, after delay: TimeAmount) {
        // Timers hold the handler until they fire or `channelInactive` cancels them.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            let quiet = NIODeadline.now() - handler.lastReadAt
            if quiet >= handler.timeouts.idle {
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
