import NIOCore
import NIOPosix
import StitchWire

extension StitchServer {
    func queryBootstrap(_ running: Running) -> ServerBootstrap {
        let (graph, poolOverrides, clockMs) = (running.graph, running.poolOverrides, clockMs)
        let (metrics, logger, configuration, registry) = (metrics, logger, configuration, running.queryConnections)
        let heavyPool = running.heavyQueryPool
        let authority = TokenAuthority(grants: configuration.tokens)
        let limiter = ConnectionLimiter(
            port: "query", connectionsMax: configuration.queryConnectionsMax,
            perAddressMax: configuration.connectionsPerAddressMax)
        return ServerBootstrap(group: running.queryGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard limiter.admit(channel, metrics: metrics) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ConnectionGuard(port: "query", metrics: metrics, timeouts: configuration.connectionTimeouts),
                        ByteToMessageHandler(FrameDecoder()),
                        QueryHandler(
                            executor: QueryExecutor(
                                graph: graph, metrics: metrics, poolOverrides: poolOverrides,
                                configuration: configuration, clockMs: clockMs),
                            authority: authority, metrics: metrics, configuration: configuration,
                            logger: logger, heavyPool: heavyPool),
                    ])
                    registry.insert(channel, for: channel)
                    metrics.queryConnections.increment()
                    channel.closeFuture.whenComplete { _ in
                        registry.remove(channel)
                        metrics.queryConnections.decrement()
                    }
                }
            }
    }
}
