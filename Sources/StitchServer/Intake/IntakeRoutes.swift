import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StitchBeacon
import StitchGraph
import StitchHooks
import StitchIdentity
import StitchWire

/// The handlers of the HTTP intake (see `HTTPIntake`).
struct IntakeRoutes: Sendable {
    let queue: IngestQueue
    let graph: ShardedGraph
    let metrics: ServerMetrics
    let clockMs: @Sendable () -> Int64
    let bodyBytesMax: Int
    /// Origins allowed to write to each site from a browser; "*" allows any.
    let corsOrigins: [UInt32: [String]]
    let limiter: IntakeRateLimiter
    /// Each site's webhook credentials (`/v1/hooks/PROVIDER/SITE`).
    let webhooks: [UInt32: WebhookSettings]
    /// Granted renewals on their way to the writer.
    let renewals: LeaseRenewalBuffer
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    let proxies: TrustedProxies
    /// Most numbers one client address holds at once (0: no bound).
    let leaseNumbersPerAddressMax: Int
    /// Fetches what Bitrix24's webhooks only name (nil: no site uses it).
    var fetcher: Bitrix24Fetcher?
    let logger: Logger
    /// Cluster mode: leases belong to each partition's lease node.
    var cluster: ClusterNode? = nil
    /// A single node with `ack_after = log`: how far each shard is logged
    /// and applied, so a lease waits for the page view it follows.
    var appliedPositions: LogPositions? = nil
    var leaseForwarder: LeaseForwarder? = nil
    /// Per-site ingest budgets, shared with the collector.
    var quotas: SiteQuotas? = nil

    func add(to router: Router<HTTPIntake.Context>) {
        router.post("/v1/frames") { request, context in try await frames(request, context) }
        router.post("/v1/beacon") { request, context in try await beacon(request, context) }
        router.get("/v1/lease") { request, context in try await lease(request, context) }
        router.get("/v1/stitch.js") { request, _ in script(request) }
        router.on("/v1/beacon", method: .options) { request, _ in preflight(request) }
        router.on("/v1/lease", method: .options) { request, _ in preflight(request) }
        router.post("/v1/hooks/:provider/:site") { request, context in try await webhook(request, context, subpath: "") }
        // Zadarma checks a URL with GET ?zd_echo=… when it is saved.
        router.get("/v1/hooks/:provider/:site") { request, context in try await webhook(request, context, subpath: "") }
        // Mango Office posts to the configured URL + /events/call, /events/summary, ….
        router.post("/v1/hooks/:provider/:site/events/:event") { request, context in
            try await webhook(request, context, subpath: "/events/" + (context.parameters.get("event") ?? ""))
        }
    }

    // MARK: Handlers

    /// Frames in, their ACK/ERROR frames out, in order.
    private func frames(_ request: Request, _ context: HTTPIntake.Context) async throws -> Response {
        if let refusal = admit(request, context, endpoint: "frames") { return refusal }
        guard let body = await body(of: request) else {
            return refuse(.contentTooLarge, "the body is over \(bodyBytesMax) bytes", endpoint: "frames")
        }
        let replies = try await submit(body, origin: request.headers[.origin], endpoint: "frames")
        switch replies {
        case .refused(let response):
            return response
        case .answered(let slots):
            var buffer = ByteBufferAllocator().buffer(capacity: 64 * slots.count)
            let encoder = FrameEncoder()
            for slot in slots {
                switch slot {
                case .committed(let sequence, let ack):
                    try encoder.encode(ack, type: .ack, sequence: sequence, into: &buffer)
                case .refused(let sequence, let error):
                    try encoder.encode(error, type: .error, sequence: sequence, into: &buffer)
                }
            }
            return Response(
                status: .ok, headers: corsHeaders(request, [.contentType: "application/octet-stream"]),
                body: .init(byteBuffer: buffer))
        }
    }

    /// One frame from a browser: 204 once stored, 400 with the reason if not.
    private func beacon(_ request: Request, _ context: HTTPIntake.Context) async throws -> Response {
        if let refusal = admit(request, context, endpoint: "beacon") { return refusal }
        guard let body = await body(of: request) else {
            return refuse(.contentTooLarge, "the body is over \(bodyBytesMax) bytes", endpoint: "beacon")
        }
        switch try await submit(body, origin: request.headers[.origin], endpoint: "beacon", framesMax: 1) {
        case .refused(let response):
            return response
        case .answered(let slots):
            switch slots.first {
            case .committed(_, let ack) where ack.accepted + ack.repeated + ack.suppressed > 0:
                return Response(status: .noContent, headers: corsHeaders(request, [:]))
            case .committed(_, let ack):
                let reasons = ack.rejections.map { "\($0.index): \($0.reason) \($0.detail)" }.joined(separator: "; ")
                return refuse(.badRequest, "no beacon was stored: \(reasons)", endpoint: "beacon", request: request)
            case .refused(_, let error):
                let status: HTTPResponse.Status = [.storeUnavailable, .overloaded, .shuttingDown].contains(error.code) ? .serviceUnavailable : .badRequest
                return refuse(status, "\(error.code): \(error.message)", endpoint: "beacon", request: request)
            case nil:
                return refuse(.badRequest, "the body holds no frame", endpoint: "beacon", request: request)
            }
        }
    }

    /// The tracking number a session should show, as JSON.
    private func lease(_ request: Request, _ context: HTTPIntake.Context) async throws -> Response {
        if let refusal = admit(request, context, endpoint: "lease") { return refusal }
        let parameters = request.uri.queryParameters
        guard let site = parameters["site"].flatMap({ UInt32($0) }), site > 0,
            let session = parameters["session"].map(String.init), !session.isEmpty
        else {
            return refuse(.badRequest, "give site=N and session=S", endpoint: "lease", request: request)
        }
        if let origin = request.headers[.origin], !allows(origin: origin, site: site) {
            return refuse(.forbidden, "origin \(origin) may not use site \(site)", endpoint: "lease")
        }
        if let cluster, let leaseForwarder, request.headers[LeaseForwarder.forwardedHeader] == nil,
            let leaseNode = cluster.membership?.leaseNode(of: graph.layout.shard(of: site)), leaseNode.node != cluster.name
        {
            // One allocator per partition: the lease node's.
            let (status, body) = await leaseForwarder.forward(
                query: request.uri.query ?? "", to: leaseNode, client: clientAddress(request, context),
                userAgent: request.headers[.userAgent], origin: request.headers[.origin])
            return Response(
                status: status, headers: corsHeaders(request, [.contentType: "application/json", .cacheControl: "no-store"]),
                body: .init(byteBuffer: body))
        }
        let desk = LeaseDesk(callTracking: graph.callTracking, metrics: metrics)
        let normalizer = IdentifierNormalizer(junk: graph.junkRules(site: site))
        let nowMs = clockMs()
        let grant: LeaseGrant
        do {
            if parameters["renew"] == "1" {
                let renewed = try desk.renew(site: site, session: session, normalizer: normalizer, nowMs: nowMs)
                grant = renewed.grant
                // The allocator holds the number already; the stored lease
                // follows within a second.
                if let renewal = renewed.renewal { renewals.add(renewal) }
            } else {
                await awaitLoggedPageView(site: site, session: session, normalizer: normalizer, nowMs: nowMs)
                grant = try desk.publicGrant(
                    site: site, session: session, normalizer: normalizer, nowMs: nowMs, graph: graph.graph(site: site),
                    userAgent: request.headers[.userAgent] ?? "", address: clientAddress(request, context),
                    addressMax: leaseNumbersPerAddressMax)
            }
        } catch let rejection as IdentifierRejection {
            return refuse(.badRequest, "session: \(rejection)", endpoint: "lease", request: request)
        } catch {
            logger.error("lease: the store could not be read: \(error)")
            return refuse(.serviceUnavailable, "the store could not be read; try again", endpoint: "lease", request: request)
        }
        // Written by hand: every value is a number, a kind name or an E.164
        // number (digits and '+'), so nothing needs escaping; every open
        // page's renewals come here, and Foundation's serializer was a third
        // of a renewal's server CPU (241 → 155 µs, ops/renewal-bench.sh).
        let json = #"{"held_until_ms":\#(grant.heldUntilMs),"kind":"\#(grant.kind.rawValue)","#
            + #""renew_after_ms":\#(desk.renewAfterMs(site: site)),"tracking_number":"\#(grant.number ?? "")"}"#
        return Response(
            status: .ok, headers: corsHeaders(request, [.contentType: "application/json", .cacheControl: "no-store"]),
            body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// The longest a lease waits for its session's page view to be applied.
    static let leaseApplyWaitMs = 1_000

    /// `ack_after = log`: the page view that makes a session known may be
    /// acked — so the tracker asks for a number — and not applied yet. Before
    /// the session is judged unknown, this waits (at most `leaseApplyWaitMs`)
    /// until its shard has applied what was logged when the lease was asked.
    /// A session the store knows, or a shard not behind, waits for nothing.
    private func awaitLoggedPageView(site: UInt32, session: String, normalizer: IdentifierNormalizer, nowMs: Int64) async {
        guard let positions = appliedPositions else { return }
        let shard = graph.layout.shard(of: site)
        let logged = positions.logged(shard)
        guard positions.applied(shard) < logged, let normalized = try? normalizer.normalize(.session, session).value,
            (try? LeaseDesk.isActive(site: site, normalizedSession: normalized, nowMs: nowMs, graph: graph.graph(site: site))) == false
        else { return }
        let deadline = ContinuousClock.now + .milliseconds(Self.leaseApplyWaitMs)
        while positions.applied(shard) < logged, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The tracker, cached for an hour and revalidated by its ETag.
    private func script(_ request: Request) -> Response {
        var headers: HTTPFields = [
            .contentType: "application/javascript; charset=utf-8", .cacheControl: "public, max-age=3600",
            .eTag: TrackerScript.etag, .accessControlAllowOrigin: "*",
        ]
        if request.headers[.ifNoneMatch] == TrackerScript.etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.vary] = "Accept-Encoding"
        let acceptsDeflate = (request.headers[.acceptEncoding] ?? "").split(separator: ",").contains {
            $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "deflate"
        }
        let body = acceptsDeflate ? TrackerScript.deflated : TrackerScript.body
        if acceptsDeflate { headers[.contentEncoding] = "deflate" }
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// CORS preflight (a `fetch` with a content type browsers do not
    /// safelist); the origin is checked per site when the request comes.
    private func preflight(_ request: Request) -> Response {
        var headers = corsHeaders(request, [:])
        headers[.accessControlAllowMethods] = "GET, POST"
        headers[.accessControlAllowHeaders] = "Content-Type"
        headers[.accessControlMaxAge] = "86400"
        return Response(status: .noContent, headers: headers)
    }

    // MARK: Steps

    enum Submission {
        case refused(Response)
        case answered([BatchOutcome])
    }

    /// Decodes the frames of `body` through the collector's intake, checks
    /// the origin against every site written to, queues the batches and
    /// waits for their commit. A frame refused as a whole is answered in its
    /// place; one that leaves the stream unreadable ends it.
    func submit(_ body: ByteBuffer, origin: String?, endpoint: String, framesMax: Int = 10_000) async throws -> Submission {
        var intake = BatchIntake(
            transport: .http, preparer: EventPreparer(rules: graph, deals: graph), metrics: metrics, quotas: quotas,
            clockMs: clockMs)
        var decoder = FrameDecoder()
        var buffer = body
        /// Each frame: queued, or refused as a whole in its place.
        enum Slot {
            case queued(IngestItem)
            case refused(sequence: UInt64, Stitch_V1_FrameError)
        }
        var slots: [Slot] = []
        while buffer.readableBytes > 0, slots.count < framesMax {
            let frame: Frame
            do {
                guard let decoded = try decoder.decode(buffer: &buffer) else {
                    metrics.frameRejected(reason: "truncated", transport: "http")
                    return .refused(refuse(.badRequest, "the body ends inside a frame", endpoint: endpoint))
                }
                frame = decoded
            } catch let error as FrameError {
                intake.rejected(error)
                return .refused(refuse(.badRequest, "\(error)", endpoint: endpoint))
            }
            switch intake.intake(frame, replyTo: nil) {
            case .success(let item):
                if let origin, let site = item.events.map(\.site).first(where: { !allows(origin: origin, site: $0) }) {
                    return .refused(refuse(.forbidden, "origin \(origin) may not write to site \(site)", endpoint: endpoint))
                }
                slots.append(.queued(item))
            case .failure(let error):
                slots.append(.refused(sequence: frame.header.sequence, error.wireMessage))
            }
        }
        guard !slots.isEmpty else { return .refused(refuse(.badRequest, "the body holds no frame", endpoint: endpoint)) }
        if buffer.readableBytes > 0 {
            return .refused(refuse(.contentTooLarge, "at most \(framesMax) frames per request", endpoint: endpoint))
        }
        let queued = slots.compactMap { slot -> IngestItem? in
            if case .queued(let item) = slot { return item }
            return nil
        }
        let replies = HTTPReplies(expected: queued.count)
        for var item in queued {
            item.replyTo = replies
            if await !queue.offerWaitingForRoom(item) {
                replies.deliver([BatchOutcome.refused(sequence: item.sequence, error: .shuttingDown)])
            }
        }
        var outcomes = await replies.all().makeIterator()
        return .answered(slots.map { slot in
            switch slot {
            case .queued: outcomes.next()!
            case .refused(let sequence, let error): BatchOutcome.refused(sequence: sequence, error: error)
            }
        })
    }

    /// The whole body, or nil when it is over `bodyBytesMax`.
    func body(of request: Request) async -> ByteBuffer? {
        var request = request
        return try? await request.collectBody(upTo: bodyBytesMax)
    }

    /// The rate limit per client address; a refusal, or nil to go on.
    func admit(_ request: Request, _ context: HTTPIntake.Context, endpoint: String) -> Response? {
        let address = clientAddress(request, context)
        guard limiter.admit(address, nowNanoseconds: DispatchTime.now().uptimeNanoseconds) else {
            return refuse(.tooManyRequests, "over \(limiter.requestsPerSecond) requests per second from \(address)", endpoint: endpoint)
        }
        return nil
    }

    private static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    private static let forwarded = HTTPField.Name("Forwarded")!

    /// The client's address: the peer's, or behind a trusted proxy the one
    /// its `X-Forwarded-For` or `Forwarded` names (`TrustedProxies`).
    func clientAddress(_ request: Request, _ context: HTTPIntake.Context) -> String {
        let peer = context.remoteAddress?.ipAddress ?? "unknown"
        // Another node of the cluster forwarding a lease names the browser.
        if request.headers[LeaseForwarder.forwardedHeader] != nil, cluster?.membership?.isPeer(address: peer) == true,
            let named = request.headers[Self.forwardedFor]?.split(separator: ",").last
        {
            return named.trimmingCharacters(in: .whitespaces)
        }
        return proxies.client(peer: peer, forwardedFor: request.headers[Self.forwardedFor], forwarded: request.headers[Self.forwarded])
    }

    private func allows(origin: String, site: UInt32) -> Bool {
        guard let allowed = corsOrigins[site] else { return false }
        return allowed.contains("*") || allowed.contains(origin)
    }

    /// CORS response headers: the request's origin is echoed (the site
    /// check happened before anything was stored).
    func corsHeaders(_ request: Request, _ base: HTTPFields) -> HTTPFields {
        var headers = base
        if let origin = request.headers[.origin] {
            headers[.accessControlAllowOrigin] = origin
            headers[.vary] = "Origin"
        }
        return headers
    }

    /// A refusal with its reason as text, counted by endpoint and status.
    func refuse(_ status: HTTPResponse.Status, _ reason: String, endpoint: String, request: Request? = nil) -> Response {
        metrics.counter(.intakeRefused, [("endpoint", endpoint), ("status", String(status.code))]).increment()
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
        if let request { headers = corsHeaders(request, headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reason + "\n")))
    }
}
