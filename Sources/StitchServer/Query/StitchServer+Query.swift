import NIOCore
import NIOPosix
import StitchWire

extension StitchServer {
    func queryBootstrap(_ running: Running) -> ServerBootstrap {
        let (graph, poolOverrides, clockMs) = (running.graph, running.poolOverrides, clockMs)
        let (metrics, logger, configuration, registry) = (metrics, logger, configuration, running.queryConnections)
        let heavyPool = running.heavyQueryPool
        let cluster = running.cluster
        let forwarder = running.forwarder
        let authority = TokenAuthority(grants: configuration.tokens)
        return framedTCPBootstrap(
            group: running.queryGroup, port: "query", connectionsMax: configuration.queryConnectionsMax
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(
                QueryHandler(
                    executor: QueryExecutor(
                        shards: graph, metrics: metrics, poolOverrides: poolOverrides,
                        configuration: configuration, cluster: cluster, clockMs: clockMs),
                    authority: authority, metrics: metrics, configuration: configuration,
                    logger: logger, heavyPool: heavyPool, forwarder: forwarder))
            registry.insert(channel, for: channel)
            metrics.queryConnections.increment()
            channel.closeFuture.whenComplete { _ in
                registry.remove(channel)
                metrics.queryConnections.decrement()
            }
        }
    }
}
