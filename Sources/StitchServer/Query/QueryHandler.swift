import CoreMetrics
import DequeModule
import Logging
import NIOCore
import NIOPosix
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire

/// One query connection (`proto/query.proto`, FRAMING.md "Query protocol").
///
/// Sits after a `ByteToMessageHandler(FrameDecoder())`. The first request
/// must be `hello`; every request gets exactly one response carrying its id,
/// answered in arrival order on the event loop (reads are microseconds and
/// never wait for the writer). Responses are written as they are made and
/// flushed once per socket read (or every `inFlightMax` responses), so a
/// pipelining client gets them in bulk.
///
/// Backpressure: a client that sends faster than it reads fills its socket;
/// once the channel is not writable the handler stops reading requests until
/// it is again, so the server never queues unbounded responses.
final class QueryHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let service: QueryService
    private let metrics: ServerMetrics
    private let logger: Logger
    private let responseBytesMax: Int
    /// This connection's own executor (its normalizer cache is per connection).
    /// The hello's grant, whose request budget each request takes from.
    private var grantedAccess: QueryAccess?
    private var executor: QueryExecutor
    private let decoder = PayloadDecoder()
    private let encoder = FrameEncoder()
    private var state: QueryConnectionStateMachine
    private var timers: [String: CoreMetrics.Timer] = [:]
    /// Too many wrong hellos: answer the last one, then close; read no more.
    private var closeAfterAnswer = false
    /// Requests read and not yet answered, in order (one runs off the event
    /// loop at a time; those behind it wait so answers keep their order).
    private var pending = Deque<Frame>()
    /// A request of this connection runs on the heavy pool or another node.
    private var offloaded = false
    /// The hello's token (forwarded requests carry it) and whether this
    /// connection is another node's forwarding (never forwarded again).
    private var helloToken = ""
    private var isForwarded = false

    init(service: QueryService, configuration: ServerConfiguration, logger: Logger) {
        self.service = service
        self.metrics = service.metrics
        self.logger = logger
        self.state = QueryConnectionStateMachine(inFlightMax: configuration.queryInFlightMax)
        self.responseBytesMax = configuration.responseBytesMax
        self.executor = service.executor
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closeAfterAnswer else { return }
        pending.append(unwrapInboundIn(data))
        answerPending(context: context)
    }

    /// Answers queued requests in order until one goes to the heavy pool.
    private func answerPending(context: ChannelHandlerContext) {
        while !offloaded, !closeAfterAnswer, let frame = pending.popFirst() {
            handle(frame, context: context)
        }
        if closeAfterAnswer { pending.removeAll() }
    }

    private func handle(_ frame: Frame, context: ChannelHandlerContext) {
        let start = ContinuousClock.now
        let requestID = frame.header.sequence
        var type = "unknown"
        let body: Stitch_V1_Response.OneOf_Kind
        do throws(QueryFailure) {
            let request = try decodeRequest(frame)
            type = Self.typeName(request.kind)
            if let access = grantedAccess, !isForwarded {
                if case .hello = request.kind {} else { try service.admit(access) }
            }
            let position = request.hasMinPosition ? request.minPosition : nil
            if let kind = request.kind, case let route = service.route(kind, minPosition: position, isForwarded: isForwarded),
                !route.isHere, case .execute(let access) = state.requestReceived(isHello: false)
            {
                switch route {
                case .forward(let target):
                    forward(kind, minPosition: position, to: target, requestID: requestID, type: type, start: start, context: context)
                case .heavy(let waitingFor):
                    offload(kind, access: access, waitingFor: waitingFor, requestID: requestID, type: type, start: start, context: context)
                case .here:
                    preconditionFailure("answered here")
                }
                return
            }
            body = try answer(request, context: context)
        } catch {
            body = .error(error.wireMessage)
            metrics.counter(.queryErrors, [("type", type), ("code", error.label)]).increment()
        }
        finish(body, requestID: requestID, type: type, start: start, context: context)
    }

    /// Runs one heavy request on the pool; the connection's later requests
    /// wait for it, other connections do not.
    private func offload(
        _ kind: Stitch_V1_Request.OneOf_Kind, access: QueryAccess, waitingFor position: Stitch_V1_LogPosition? = nil,
        requestID: UInt64, type: String, start: ContinuousClock.Instant, context: ChannelHandlerContext
    ) {
        offloaded = true
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        service.runHeavy(kind, access: access, waitingFor: position, executor: executor, eventLoop: context.eventLoop)
            .whenSuccess { result in
                let (handler, context) = bound.value
                let body: Stitch_V1_Response.OneOf_Kind
                switch result {
                case .success(let answer): body = answer
                case .failure(let failure):
                    body = .error(failure.wireMessage)
                    handler.metrics.counter(.queryErrors, [("type", type), ("code", failure.label)]).increment()
                }
                handler.resume(answering: body, requestID: requestID, type: type, start: start, context: context)
            }
    }

    /// Answers a request that was answered off the event loop (heavy pool or
    /// another node), then reads on: the connection's later requests waited.
    private func resume(
        answering body: Stitch_V1_Response.OneOf_Kind, requestID: UInt64, type: String, start: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        offloaded = false
        finish(body, requestID: requestID, type: type, start: start, context: context)
        guard context.channel.isActive else { return }
        answerPending(context: context)
        perform(state.readComplete(), context)
        perform(state.writabilityChanged(writable: canTakeMore(context)), context)
    }

    /// Sends one request to `target` and answers with its answer; the
    /// connection's later requests wait, as behind a heavy request.
    private func forward(
        _ kind: Stitch_V1_Request.OneOf_Kind, minPosition: Stitch_V1_LogPosition?, to target: ClusterMember,
        requestID: UInt64, type: String, start: ContinuousClock.Instant, context: ChannelHandlerContext
    ) {
        offloaded = true
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let token = helloToken
        let promise = context.eventLoop.makePromise(of: Stitch_V1_Response.OneOf_Kind.self)
        let service = service
        promise.completeWithTask { await service.forward(kind, minPosition: minPosition, token: token, to: target) }
        promise.futureResult.whenComplete { result in
            let (handler, context) = bound.value
            let body: Stitch_V1_Response.OneOf_Kind
            switch result {
            case .success(let answer): body = answer
            case .failure(let error): body = .error(QueryFailure(.unavailable, "forwarding failed (\(error))").wireMessage)
            }
            if case .error(let error) = body {
                handler.metrics.counter(.queryErrors, [("type", type), ("code", error.code.label)]).increment()
            }
            handler.resume(answering: body, requestID: requestID, type: type, start: start, context: context)
        }
    }

    /// Reads go on while the client reads its answers and few requests wait.
    private func canTakeMore(_ context: ChannelHandlerContext) -> Bool {
        context.channel.isWritable && pending.count < state.inFlightMax
    }

    private func finish(
        _ body: Stitch_V1_Response.OneOf_Kind, requestID: UInt64, type: String, start: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        write(body, requestID: requestID, context: context)
        timer(type).recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        if closeAfterAnswer {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        perform(state.readComplete(), context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        perform(state.readRequested(writable: canTakeMore(context)), context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        perform(state.writabilityChanged(writable: canTakeMore(context)), context)
        context.fireChannelWritabilityChanged()
    }

    private func perform(_ action: QueryConnectionStateMachine.Action, _ context: ChannelHandlerContext) {
        if action.flush { context.flush() }
        if action.read { context.read() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            // Stream-fatal framing error: answer once, then close.
            metrics.frameRejected(reason: frameError.code, transport: "query")
            write(.error(QueryFailure(.badFrame, "\(frameError); closing").wireMessage), requestID: 0, context: context)
            perform(state.readComplete(), context)
        } else {
            logger.debug("query connection error: \(error)")
        }
        context.close(promise: nil)
    }

    // MARK: Steps

    private func decodeRequest(_ frame: Frame) throws(QueryFailure) -> Stitch_V1_Request {
        let request: Stitch_V1_Request
        do {
            request = try decoder.decode(frame, as: Stitch_V1_Request.self, expecting: .request)
        } catch {
            metrics.frameRejected(reason: error.code, transport: "query")
            throw QueryFailure(.badFrame, "\(error)")
        }
        guard request.requestID == frame.header.sequence else {
            throw QueryFailure(
                .badFrame, "request_id \(request.requestID) differs from the frame's sequence \(frame.header.sequence)")
        }
        return request
    }

    private func answer(_ request: Stitch_V1_Request, context: ChannelHandlerContext) throws(QueryFailure)
        -> Stitch_V1_Response.OneOf_Kind
    {
        guard let kind = request.kind else {
            throw QueryFailure(.unsupported, "a request kind this server (protocol 1) does not know")
        }
        let isHello: Bool
        if case .hello = kind { isHello = true } else { isHello = false }
        switch state.requestReceived(isHello: isHello) {
        case .hello:
            guard case .hello(let hello) = kind else { preconditionFailure("hello answer for another request") }
            return .hello(try accept(hello, context: context))
        case .execute(let access):
            return try executor.answer(kind, access: access)
        case .refuse(let failure):
            throw failure
        }
    }

    private func accept(_ hello: Stitch_V1_Hello, context: ChannelHandlerContext) throws(QueryFailure)
        -> Stitch_V1_HelloResponse
    {
        guard hello.protocolVersion <= 1 else {
            throw QueryFailure(.unsupported, "protocol version \(hello.protocolVersion); this server speaks 1")
        }
        let granted: QueryAccess
        switch service.authority.authenticate(token: hello.token, remote: context.remoteAddress) {
        case .success(let access): granted = access
        case .failure(let failure):
            metrics.counter(.helloFailures).increment()
            let closing = state.helloRefused()
            let remote = context.remoteAddress.map { "\($0)" } ?? "?"
            logger.warning(
                "query hello refused from \(remote) (client '\(hello.clientName)'): \(failure.message)\(closing ? "; closing after \(state.helloFailures) failures" : "")")
            if closing { closeAfterAnswer = true }
            throw failure
        }
        state.helloAccepted(granted)
        grantedAccess = granted
        helloToken = hello.token
        isForwarded = hello.clientName == QueryForwarder.clientName
        logger.debug("query client '\(hello.clientName)' authenticated as \(granted.name)")
        return .with {
            $0.sites = granted.sites.map { $0.sorted() } ?? []
            $0.serverVersion = ServerVersion.current
            $0.protocolVersion = 1
            $0.inFlightMax = UInt32(state.inFlightMax)
            $0.responseBytesMax = UInt32(responseBytesMax)
        }
    }

    private func write(_ body: Stitch_V1_Response.OneOf_Kind, requestID: UInt64, context: ChannelHandlerContext) {
        var response = Stitch_V1_Response()
        response.requestID = requestID
        response.kind = body
        var bytes: [UInt8] = (try? response.serializedBytes()) ?? []
        if bytes.count > responseBytesMax {
            response.kind = .error(QueryFailure(
                .responseTooLarge,
                "the answer is \(bytes.count) bytes, over \(responseBytesMax); narrow it (limit, time range)"
            ).wireMessage)
            bytes = (try? response.serializedBytes()) ?? []
        }
        var buffer = context.channel.allocator.buffer(capacity: FrameHeader.byteCount + bytes.count)
        bytes.withUnsafeBytes { raw in
            // Within limits by the check above (responseBytesMax ≤ frameBytesMax).
            try! encoder.encode(payload: raw, type: .response, sequence: requestID, into: &buffer)
        }
        context.write(wrapOutboundOut(buffer), promise: nil)
        perform(state.responseWritten(), context)
    }

    private func timer(_ type: String) -> CoreMetrics.Timer {
        if let timer = timers[type] { return timer }
        let timer = metrics.queryTimer(type: type)
        timers[type] = timer
        return timer
    }

    static func typeName(_ kind: Stitch_V1_Request.OneOf_Kind?) -> String {
        switch kind {
        case .hello: "hello"
        case .lookup: "lookup"
        case .batchLookup: "batch_lookup"
        case .history: "history"
        case .mergesSince: "merges_since"
        case .stats: "stats"
        case .lease: "lease"
        case .explain: "explain"
        case .poolSet: "pool_set"
        case .poolGet: "pool_get"
        case .quarantine: "quarantine"
        case .unquarantine: "unquarantine"
        case .shared: "shared"
        case .forget: "forget"
        case .personGraph: "person_graph"
        case .audit: "audit"
        case nil: "unknown"
        }
    }
}

/// The version the server reports in `HelloResponse.server_version`.
public enum ServerVersion {
    public static let current = "0.2.0"
}
