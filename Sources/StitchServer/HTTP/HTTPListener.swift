import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// A Hummingbird application serving one port: started and bound before
/// `start` returns, stopped gracefully (requests in flight finish). The two
/// HTTP ports, the public intake and the internal port, each run one.
struct HTTPListener: Sendable {
    /// The bound port (the OS's choice when 0 was asked for).
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Binds `host:port` and serves `router` (with TLS when `tls` is given;
    /// refusals and failed handshakes counted under `metricsPort`); throws
    /// `HTTPListenerError` when the port cannot be bound.
    static func start(
        router: Router<PeerRequestContext>, name: String, host: String, port requestedPort: Int, connectionsMax: Int? = nil,
        tls: StitchServer.PortTLS? = nil, metrics: ServerMetrics? = nil, metricsPort: String = "",
        eventLoopGroup: any EventLoopGroup, logger: Logger
    ) async throws -> HTTPListener {
        let (bound, boundContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = HTTPServerBuilder.http1(
            tls: tls, onRefused: { metrics?.counter(.tlsPlaintextRefused, [("port", metricsPort)]).increment() },
            onHandshakeFailed: { metrics?.counter(.tlsHandshakeFailures, [("port", metricsPort)]).increment() })
        let application = Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(host, port: requestedPort), serverName: "stitch",
                availableConnectionsDelegate: connectionsMax.map { MaximumAvailableConnections($0) }),
            onServerRunning: { channel in
                boundContinuation.yield(channel.localAddress?.port ?? 0)
                boundContinuation.finish()
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger)
        let group = ServiceGroup(services: [application], gracefulShutdownSignals: [], logger: logger)
        let task = Task {
            // A bind that fails ends the group without a running server: the
            // wait below ends too, with no port.
            defer { boundContinuation.finish() }
            try await group.run()
        }
        var port = 0
        for await value in bound { port = value }
        guard port > 0 else {
            task.cancel()
            _ = try? await task.value
            throw HTTPListenerError(name: name, port: requestedPort)
        }
        return HTTPListener(port: port, group: group, task: task)
    }

    /// Stops accepting; requests in flight finish first.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// An HTTP port could not be bound.
struct HTTPListenerError: Error, CustomStringConvertible {
    let name: String
    let port: Int
    var description: String { "could not bind the \(name) port \(port)" }
}
