import NIOCore
import NIOPosix
import StitchBeacon
import StitchWire

extension StitchServer {
    // The collector's channels: TCP connections with acks, and one UDP socket
    // per event loop. Both feed the writer's queue through a `BatchIntake`.

    func ingestTCPBootstrap(_ running: Running) -> ServerBootstrap {
        let (queue, metrics, logger, registry) = (running.queue, metrics, logger, running.ingestConnections)
        let (graph, clockMs, repliesOwedMax, quotas) = (running.graph, clockMs, configuration.ingestRepliesOwedMax, running.quotas)
        let tls = running.tls.flatMap { tls in configuration.tlsPorts.contains(.ingest) ? tls : nil }.map { tls in
            PortTLS(context: { tls.ingest }, allowPlaintext: configuration.tlsAllowsPlaintext, refusal: Self.ingestPlaintextRefusal)
        }
        return framedTCPBootstrap(
            group: running.group, port: "ingest", connectionsMax: configuration.ingestConnectionsMax, tls: tls
        ) { channel in
            // One intake per connection: its decoder's zlib stream and its
            // normalizer cache belong to one event loop.
            let intake = BatchIntake(
                transport: .tcp, preparer: EventPreparer(rules: graph, deals: graph), metrics: metrics, quotas: quotas,
                clockMs: clockMs)
            let handler = IngestTCPHandler(
                queue: queue, intake: intake, metrics: metrics, logger: logger, repliesOwedMax: repliesOwedMax)
            try channel.pipeline.syncOperations.addHandler(handler)
            registry.insert(handler.connection!, for: channel)
            metrics.ingestConnections.increment()
            channel.closeFuture.whenComplete { _ in
                registry.remove(channel)
                metrics.ingestConnections.decrement()
            }
        }
    }

    func udpBootstrap(_ loop: any EventLoop, _ running: Running) -> DatagramBootstrap {
        let (queue, metrics) = (running.queue, metrics)
        let (graph, clockMs, quotas) = (running.graph, clockMs, running.quotas)
        let count = configuration.udpVectorReadCount
        let udpLimits = {
            var limits = WireLimits.standard
            limits.inflatedBytesMax = configuration.udpInflatedBytesMax
            return limits
        }()
        return DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(
                ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT)),
                value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.udpReceiveBufferBytes))
            .channelOption(.datagramVectorReadMessageCount, value: count)
            // The vector read splits one buffer evenly over `count` datagrams:
            // give each room for the largest UDP payload.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536 * count))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        IngestUDPHandler(
                            queue: queue,
                            intake: BatchIntake(
                                transport: .udp, preparer: EventPreparer(rules: graph, deals: graph), metrics: metrics,
                                limits: udpLimits, quotas: quotas, clockMs: clockMs),
                            metrics: metrics))
                }
            }
    }
}
