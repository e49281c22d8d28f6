import Logging
import NIOCore
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire

/// The UDP collector: one frame per datagram, nothing sent back
/// (FRAMING.md "Transports"). One handler per socket, one socket per event
/// loop (SO_REUSEPORT lets the kernel spread datagrams over them).
///
/// A refused datagram is counted by reason; a datagram the queue has no room
/// for is dropped and counted (UDP cannot push back).
final class IngestUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let queue: IngestQueue
    private let metrics: ServerMetrics
    private var intake: BatchIntake
    private let limits = WireLimits.standard

    init(queue: IngestQueue, intake: BatchIntake, metrics: ServerMetrics) {
        self.queue = queue
        self.intake = intake
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let datagram = unwrapInboundIn(data).data
        metrics.udpDatagrams.increment()
        let frame: Frame
        do {
            frame = try Frame.parseDatagram(datagram, limits: limits)
        } catch {
            intake.rejected(error)
            return
        }
        guard case .success(let item) = intake.intake(frame, replyTo: nil), !item.events.isEmpty else { return }
        if queue.offer(item) != .accepted {
            metrics.udpDroppedBeacons.increment(by: item.events.count)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket has no peer to lose; an error here (e.g. ICMP
        // port unreachable reported on a connected socket) is counted only.
        metrics.counter(.udpSocketErrors).increment()
    }
}
