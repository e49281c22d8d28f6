import CoreMetrics
import Logging
import NIOCore
import StitchGraph
import StitchWire

/// One query connection (`proto/query.proto`, FRAMING.md "Query protocol").
///
/// Sits after a `ByteToMessageHandler(FrameDecoder())`. The first request
/// must be `hello`; every request gets exactly one response carrying its id,
/// answered in arrival order on the event loop (reads are microseconds and
/// never wait for the writer). Responses are written as they are made and
/// flushed once per socket read, so a pipelining client gets them in bulk.
final class QueryHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private let authority: TokenAuthority
    private let metrics: ServerMetrics
    private let logger: Logger
    private let inFlightMax: Int
    private let responseBytesMax: Int
    private var executor: QueryExecutor
    private let decoder = PayloadDecoder()
    private let encoder = FrameEncoder()
    private var access: QueryAccess?
    /// Responses written but not yet on the wire (the client is not reading).
    private var inFlight = 0
    private var timers: [String: CoreMetrics.Timer] = [:]

    init(graph: IdentityGraph, authority: TokenAuthority, metrics: ServerMetrics, configuration: ServerConfiguration,
         logger: Logger) {
        self.authority = authority
        self.metrics = metrics
        self.logger = logger
        self.inFlightMax = configuration.queryInFlightMax
        self.responseBytesMax = configuration.responseBytesMax
        self.executor = QueryExecutor(graph: graph, metrics: metrics)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let start = ContinuousClock.now
        let requestID = frame.header.sequence
        var type = "unknown"
        let body: Stitch_V1_Response.OneOf_Kind
        do throws(QueryFailure) {
            let request = try decodeRequest(frame)
            type = Self.typeName(request.kind)
            guard inFlight < inFlightMax else {
                throw QueryFailure(.tooManyInFlight, "more than \(inFlightMax) unread responses; read before sending more")
            }
            body = try answer(request, context: context)
        } catch {
            body = .error(error.wireMessage)
            metrics.counter("stitch_query_errors_total", [("type", type), ("code", error.label)]).increment()
        }
        write(body, requestID: requestID, context: context)
        timer(type).recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            // Stream-fatal framing error: answer once, then close.
            metrics.frameRejected(reason: frameError.code, transport: "query")
            write(.error(QueryFailure(.badFrame, "\(frameError); closing").wireMessage), requestID: 0, context: context)
            context.flush()
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
        if case .hello(let hello) = kind {
            return .hello(try accept(hello, context: context))
        }
        guard let access else {
            throw QueryFailure(.unauthenticated, "send hello first")
        }
        return try executor.answer(kind, access: access)
    }

    private func accept(_ hello: Stitch_V1_Hello, context: ChannelHandlerContext) throws(QueryFailure)
        -> Stitch_V1_HelloResponse
    {
        guard access == nil else { throw QueryFailure(.invalidArgument, "hello was already accepted") }
        guard hello.protocolVersion <= 1 else {
            throw QueryFailure(.unsupported, "protocol version \(hello.protocolVersion); this server speaks 1")
        }
        let granted = try authority.authenticate(token: hello.token, remote: context.remoteAddress).get()
        access = granted
        logger.debug("query client '\(hello.clientName)' authenticated as \(granted.name)")
        return .with {
            $0.sites = granted.sites.map { $0.sorted() } ?? []
            $0.serverVersion = ServerVersion.current
            $0.protocolVersion = 1
            $0.inFlightMax = UInt32(inFlightMax)
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
        inFlight += 1
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in self.inFlight -= 1 }
        context.write(wrapOutboundOut(buffer), promise: promise)
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
        case nil: "unknown"
        }
    }
}

/// The version the server reports in `HelloResponse.server_version`.
public enum ServerVersion {
    public static let current = "0.2.0"
}
