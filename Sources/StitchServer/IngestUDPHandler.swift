import Logging
import NIOCore
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
    private let decoder = BatchDecoder()
    private let limits = WireLimits.standard

    init(queue: IngestQueue, metrics: ServerMetrics) {
        self.queue = queue
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let datagram = unwrapInboundIn(data).data
        metrics.udpDatagrams.increment()
        let batch: DecodedBatch
        do {
            batch = try decoder.decode(try Frame.parseDatagram(datagram, limits: limits))
        } catch {
            metrics.frameRejected(reason: error.code, transport: "udp")
            return
        }
        metrics.beaconsReceived.increment(by: batch.beacons.count + batch.rejections.count)
        for rejection in batch.rejections {
            metrics.beaconRejected(reason: rejection.reason.rawValue)
        }
        guard !batch.beacons.isEmpty else { return }
        let item = IngestItem(beacons: batch.beacons, sequence: batch.sequence, ack: batch.ack, replyTo: nil)
        if queue.offer(item) != .accepted {
            metrics.udpDropped.increment()
            metrics.counter("stitch_udp_dropped_beacons_total", []).increment(by: batch.beacons.count)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket has no peer to lose; an error here (e.g. ICMP
        // port unreachable reported on a connected socket) is counted only.
        metrics.counter("stitch_udp_socket_errors_total", []).increment()
    }
}
