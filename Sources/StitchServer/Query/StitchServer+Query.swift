import NIOCore
import NIOPosix
import StitchWire

extension StitchServer {
    func queryBootstrap(_ running: Running) -> ServerBootstrap {
        let (metrics, logger, configuration, registry) = (metrics, logger, configuration, running.queryConnections)
        let service = running.queryService
        let tls = running.tls.flatMap { tls in configuration.tlsPorts.contains(.query) ? tls : nil }.map { tls in
            PortTLS(context: { tls.query }, allowPlaintext: configuration.tlsAllowsPlaintext, refusal: Self.queryPlaintextRefusal)
        }
        return framedTCPBootstrap(
            group: running.queryGroup, port: "query", connectionsMax: configuration.queryConnectionsMax, tls: tls
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(
                QueryHandler(service: service, configuration: configuration, logger: logger))
            registry.insert(channel, for: channel)
            metrics.queryConnections.increment()
            channel.closeFuture.whenComplete { _ in
                registry.remove(channel)
                metrics.queryConnections.decrement()
            }
        }
    }
}
