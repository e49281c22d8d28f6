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
    private let decoder = BatchDecoder()
    private var preparer: EventPreparer
    private let clockMs: @Sendable () -> Int64
    private let limits = WireLimits.standard

    init(
        queue: IngestQueue, metrics: ServerMetrics, preparer: EventPreparer,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.queue = queue
        self.metrics = metrics
        self.preparer = preparer
        self.clockMs = clockMs
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
        let item = IngestItem(events: prepare(batch.beacons), sequence: batch.sequence, ack: batch.ack, replyTo: nil)
        if queue.offer(item) != .accepted {
            metrics.udpDropped.increment()
            metrics.counter("stitch_udp_dropped_beacons_total", []).increment(by: batch.beacons.count)
        }
    }

    /// Normalizes and encodes accepted beacons here, on the event loop.
    private func prepare(_ beacons: [Stitch_V1_Beacon]) -> [PreparedEvent] {
        let receivedMs = clockMs()
        return beacons.map { preparer.prepare($0, receivedMs: receivedMs) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket has no peer to lose; an error here (e.g. ICMP
        // port unreachable reported on a connected socket) is counted only.
        metrics.counter("stitch_udp_socket_errors_total", []).increment()
    }
}
