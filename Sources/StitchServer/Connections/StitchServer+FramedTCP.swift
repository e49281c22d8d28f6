import NIOCore
import NIOPosix
import NIOSSL
import StitchWire

extension StitchServer {
    /// The bootstrap both framed TCP ports (ingest, query) share: socket
    /// options, admission under the port's `ConnectionLimiter` (a refused
    /// connection gets no handler at all), with `tls` the `TLSGate`, then
    /// `ConnectionGuard` and the frame decoder. `addHandlers` adds the port's
    /// own handlers after them.
    func framedTCPBootstrap(
        group: any EventLoopGroup, port: String, connectionsMax: Int, tls: PortTLS? = nil,
        addHandlers: @escaping @Sendable (any Channel) throws -> Void
    ) -> ServerBootstrap {
        let (metrics, timeouts) = (metrics, configuration.connectionTimeouts)
        let limiter = ConnectionLimiter(
            port: port, connectionsMax: connectionsMax, perAddressMax: configuration.connectionsPerAddressMax)
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard limiter.admit(channel, metrics: metrics) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(TLSGate(
                            sslContext: tls.context(), allowPlaintext: tls.allowPlaintext, refusal: tls.refusal,
                            onRefused: { metrics.counter(.tlsPlaintextRefused, [("port", port)]).increment() },
                            onHandshakeFailed: { metrics.counter(.tlsHandshakeFailures, [("port", port)]).increment() }))
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        ConnectionGuard(port: port, metrics: metrics, timeouts: timeouts),
                        ByteToMessageHandler(FrameDecoder()),
                    ])
                    try addHandlers(channel)
                }
            }
    }
}
