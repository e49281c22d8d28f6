import NIOCore
import NIOHTTP1
import NIOPosix

extension StitchServer {
    func httpBootstrap(_ group: MultiThreadedEventLoopGroup) -> ServerBootstrap {
        let metrics = metrics
        let healthy: @Sendable () -> Bool = { [self] in self.healthy.load(ordering: .relaxed) }
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(metrics: metrics, isHealthy: healthy))
                }
            }
    }
}
