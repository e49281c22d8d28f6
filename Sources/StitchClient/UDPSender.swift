import NIOCore
import NIOPosix
import StitchWire

/// Sends batches to the collector over UDP: one frame per datagram, no
/// answer (FRAMING.md "Transports"). Not thread-safe: one per task.
public final class UDPSender {
    private let channel: any Channel
    private let target: SocketAddress
    private let encoder = FrameEncoder()

    private init(channel: any Channel, target: SocketAddress) {
        self.channel = channel
        self.target = target
    }

    /// Opens a socket aimed at the collector's UDP port.
    public static func connect(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> UDPSender {
        let target = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .bind(host: target.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        return UDPSender(channel: channel, target: target)
    }

    /// The bytes of one datagram holding `beacons`.
    public func datagram(_ beacons: [Stitch_V1_Beacon], sequence: UInt64, compressed: Bool = true) throws -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: 1500)
        let batch = Stitch_V1_BeaconBatch.with { $0.beacons = beacons }
        try encoder.encode(batch, type: .batch, sequence: sequence, compressed: compressed, into: &buffer)
        return buffer
    }

    /// Sends one batch; `flush: false` lets several go out in one flush.
    public func send(_ beacons: [Stitch_V1_Beacon], sequence: UInt64, compressed: Bool = true) throws
        -> EventLoopFuture<Void>
    {
        sendDatagram(try datagram(beacons, sequence: sequence, compressed: compressed))
    }

    /// Sends raw bytes as one datagram (tests send malformed ones).
    public func sendDatagram(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: bytes))
    }

    public func close() async {
        try? await channel.close()
    }
}
