import NIOCore
import NIOHTTP1
import NIOPosix

extension StitchServer {
    func httpBootstrap(_ group: MultiThreadedEventLoopGroup) -> ServerBootstrap {
        let metrics = metrics
        let healthy: @Sendable () -> Bool = { [self] in self.healthy.load(ordering: .relaxed) }
        // Scrapers and health checks: few, so a small fixed limit; apart from
        // the other ports' limits, so /healthz answers whatever they hold.
        let limiter = ConnectionLimiter(port: "http", connectionsMax: 64, perAddressMax: 32)
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard limiter.admit(channel, metrics: metrics) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(metrics: metrics, isHealthy: healthy))
                }
            }
    }
}
