import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StitchBeacon
import StitchGraph
import StitchHooks
import StitchWire

/// The public HTTP intake (default port 7073; the ops port 7072 stays
/// internal), for producers that cannot speak the framed TCP/UDP protocol:
///
/// - `POST /v1/frames`: one or more frames of FRAMING.md as the body; the
///   answer's body holds their ACK/ERROR frames, in order.
/// - `POST /v1/beacon`: the browser path — one (compressed) frame sent by
///   `navigator.sendBeacon` or `fetch(…, {keepalive: true})` with a
///   CORS-safelisted content type, so no preflight; 204 once stored.
/// - `GET /v1/lease?site=N&session=S`: the number to show (JSON); with
///   `&renew=1`, an open page still showing it (`LeaseRenewalBuffer`).
/// - `GET /v1/stitch.js`: the browser tracker (`tracker/stitch.js`).
/// - `POST /v1/hooks/PROVIDER/SITE`: webhooks of chat, telephony and CRM
///   providers (`StitchHooks`), answered once what they carry is committed.
///
/// Everything goes through the collector's one intake path (`BatchIntake`),
/// queue, group commit and metrics, and a request is answered only after the
/// commit that holds it. Bounded: body size, requests per second per
/// address; a browser's Origin must be allowed for every site it writes to.
final class HTTPIntake: Sendable {
    /// The request context: Hummingbird's, plus the peer for the rate limit.
    typealias Context = PeerRequestContext

    private let listener: HTTPListener
    private let renewals: LeaseRenewalBuffer
    private let renewalFlushing: RepeatedTask
    private let fetcher: Bitrix24Fetcher?
    private let leaseForwarder: LeaseForwarder?

    private init(
        listener: HTTPListener, renewals: LeaseRenewalBuffer,
        renewalFlushing: RepeatedTask, fetcher: Bitrix24Fetcher?, leaseForwarder: LeaseForwarder?
    ) {
        self.fetcher = fetcher
        self.leaseForwarder = leaseForwarder
        self.listener = listener
        self.renewals = renewals
        self.renewalFlushing = renewalFlushing
    }

    /// Binds the port and starts serving; returns once it listens.
    static func start(
        configuration: ServerConfiguration, queue: IngestQueue, graph: ShardedGraph, metrics: ServerMetrics,
        eventLoopGroup: any EventLoopGroup, logger: Logger, cluster: ClusterNode? = nil,
        appliedPositions: LogPositions? = nil, quotas: SiteQuotas? = nil,
        tls: StitchServer.PortTLS? = nil, clockMs: @escaping @Sendable () -> Int64
    ) async throws -> HTTPIntake {
        let renewals = LeaseRenewalBuffer(queue: queue, metrics: metrics)
        var routes = IntakeRoutes(
            queue: queue, graph: graph, metrics: metrics, clockMs: clockMs,
            bodyBytesMax: configuration.intakeBodyBytesMax, corsOrigins: configuration.corsOrigins,
            limiter: IntakeRateLimiter(requestsPerSecond: configuration.intakeRequestsPerSecondMax),
            webhooks: configuration.webhooks, renewals: renewals, proxies: configuration.trustedProxies,
            leaseNumbersPerAddressMax: configuration.leaseNumbersPerAddressMax, fetcher: nil, logger: logger,
            cluster: cluster, leaseForwarder: cluster.map { LeaseForwarder(node: $0.name, tls: configuration.peerTLS(.intake)) })
        routes.quotas = quotas
        routes.appliedPositions = cluster == nil ? appliedPositions : nil
        let restURLs = configuration.webhooks.compactMapValues(\.bitrix24RESTURL)
        if !restURLs.isEmpty {
            let storing = routes
            let fetcher = Bitrix24Fetcher(
                dataDirectory: configuration.dataDirectory, restURLs: restURLs,
                store: { beacons in await storing.storeFetched(beacons, provider: Bitrix24Adapter.provider) },
                metrics: metrics, logger: logger, clockMs: clockMs, timing: configuration.bitrix24Timing)
            await fetcher.start()
            routes.fetcher = fetcher
        }
        let router = Router(context: Context.self)
        routes.add(to: router)
        let listener = try await HTTPListener.start(
            router: router, name: "HTTP intake", host: configuration.bindHost(.intake), port: configuration.intakePort,
            tls: tls, metrics: metrics, metricsPort: "intake", eventLoopGroup: eventLoopGroup, logger: logger)
        return HTTPIntake(
            listener: listener, renewals: renewals,
            renewalFlushing: renewals.start(on: eventLoopGroup.any()), fetcher: routes.fetcher,
            leaseForwarder: routes.leaseForwarder)
    }

    /// Stops accepting; requests in flight finish first (their batches are
    /// answered by the draining writer), and the renewals gathered so far go
    /// to the writer.
    var port: Int { listener.port }

    func stop() async {
        await listener.stop()
        renewalFlushing.cancel()
        renewals.flush()
        await fetcher?.stop()
        await leaseForwarder?.shutdown()
    }
}

