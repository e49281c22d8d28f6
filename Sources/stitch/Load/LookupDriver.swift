import Histogram
import NIOCore
import NIOPosix
import StitchWire

/// Drives pre-encoded lookup frames at a fixed rate over one query
/// connection and measures each answer's latency from when it was due.
///
/// Built for low overhead, so the generator leaves the CPU to the server
/// it measures: no promise per request, no protobuf decoding of answers
/// (only a scan for the `error` field), and the latency histogram lives on
/// the connection's event loop, without locks.
final class LookupDriver: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<LatencyHandler>
    /// A thread of its own: the ingest connections' acks arrive in bursts
    /// after each group commit, and answers read behind them would be timed
    /// late by the generator, not by the server.
    private let group: MultiThreadedEventLoopGroup

    private init(channel: any Channel, handler: NIOLoopBound<LatencyHandler>, group: MultiThreadedEventLoopGroup) {
        self.channel = channel
        self.handler = handler
        self.group = group
    }

    /// Connects and sends hello (request id 0) with `token`.
    static func connect(
        host: String, port: Int, token: String, requests: Int, historyEveryTenth: Bool
    ) async throws -> LookupDriver {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port).get()
        let handler = try await channel.eventLoop.submit {
            let handler = LatencyHandler(requests: requests, historyEveryTenth: historyEveryTenth)
            try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(FrameDecoder()), handler])
            return NIOLoopBound(handler, eventLoop: channel.eventLoop)
        }.get()
        var hello = channel.allocator.buffer(capacity: 64)
        try FrameEncoder().encode(
            Stitch_V1_Request.with {
                $0.requestID = 0
                $0.hello = .with {
                    $0.token = token
                    $0.clientName = "stitch-load"
                    $0.protocolVersion = 1
                }
            }, type: .request, sequence: 0, into: &hello)
        try await channel.writeAndFlush(hello)
        return LookupDriver(channel: channel, handler: handler, group: group)
    }

    /// Sends frames (their request ids are `firstID…`) in one hop and one
    /// flush; `dueNanos[i]` is when frame i was due (uptime nanoseconds).
    func send(_ frames: ArraySlice<ByteBuffer>, firstID: Int, dueNanos: [UInt64]) {
        let handler = handler
        let channel = channel
        channel.eventLoop.execute {
            for (offset, frame) in frames.enumerated() {
                handler.value.due[firstID + offset] = dueNanos[offset]
                channel.write(frame, promise: nil)
            }
            channel.flush()
        }
    }

    /// Which request ids are history requests in a lookup run (the rest are lookups).
    static func isHistory(id: Int) -> Bool { id % 10 == 0 }

    /// Latencies in microseconds, answers and error answers so far.
    func results() async throws -> (lookupMicros: Histogram<UInt64>, historyMicros: Histogram<UInt64>, answered: Int, errors: Int) {
        let handler = handler
        return try await channel.eventLoop.submit {
            (handler.value.micros, handler.value.historyMicros, handler.value.answered, handler.value.errors)
        }.get()
    }

    func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    /// Records one latency per RESPONSE frame, by its request id.
    final class LatencyHandler: ChannelInboundHandler {
        typealias InboundIn = Frame

        var due: [UInt64]
        var micros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var historyMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var answered = 0
        var errors = 0
        /// Lookup runs time every 10th request (a history page) apart.
        let historyEveryTenth: Bool

        init(requests: Int, historyEveryTenth: Bool) {
            due = Array(repeating: 0, count: requests + 1)
            self.historyEveryTenth = historyEveryTenth
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let now = NIODeadline.now().uptimeNanoseconds
            let id = Int(frame.header.sequence)
            // Response field 9 is `error`; the server never compresses answers.
            let failed = frame.payload.withUnsafeReadableBytes { (try? ProtobufScan.count(field: 9, in: $0)) ?? 1 } > 0
            if failed { errors += 1 }
            guard id > 0, id < due.count, due[id] > 0 else { return }  // hello's answer, or unknown
            answered += 1
            let latency = now > due[id] ? (now - due[id]) / 1000 : 0
            if historyEveryTenth && LookupDriver.isHistory(id: id) {
                _ = historyMicros.record(latency)
            } else {
                _ = micros.record(latency)
            }
        }
    }
}
