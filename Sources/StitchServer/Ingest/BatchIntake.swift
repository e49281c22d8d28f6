import StitchBeacon
import StitchWire

/// The one path from a received frame to a writer-ready batch, shared by the
/// TCP and UDP collectors: decode and validate the batch, count what was
/// received and refused, prepare (normalize, encode) the accepted beacons.
///
/// Runs on an event loop; one per connection or socket, made in the
/// channel's initializer (its decoder keeps a zlib stream and its preparer a
/// normalizer cache). Not thread-safe, and deliberately not `Sendable`.
struct BatchIntake {
    enum Transport: String {
        case tcp, udp
    }

    private let transport: Transport
    private let metrics: ServerMetrics
    private let clockMs: @Sendable () -> Int64
    private let decoder = BatchDecoder()
    private var preparer: EventPreparer

    init(transport: Transport, preparer: EventPreparer, metrics: ServerMetrics, clockMs: @escaping @Sendable () -> Int64) {
        self.transport = transport
        self.preparer = preparer
        self.metrics = metrics
        self.clockMs = clockMs
    }

    /// The batch in `frame`, ready for the queue, or the typed error to
    /// answer it with (already counted).
    mutating func intake(_ frame: Frame, replyTo: (any AckTarget)?) -> Result<IngestItem, FrameError> {
        let batch: DecodedBatch
        do {
            batch = try decoder.decode(frame)
        } catch {
            rejected(error)
            return .failure(error)
        }
        metrics.beaconsReceived.increment(by: batch.beacons.count + batch.rejections.count)
        for rejection in batch.rejections {
            metrics.beaconRejected(reason: rejection.reason.rawValue)
        }
        let receivedMs = clockMs()
        let events = batch.beacons.map { preparer.prepare($0, receivedMs: receivedMs) }
        return .success(IngestItem(events: events, sequence: batch.sequence, ack: batch.ack, replyTo: replyTo))
    }

    /// Counts a frame refused before its batch could be decoded.
    func rejected(_ error: FrameError) {
        metrics.frameRejected(reason: error.code, transport: transport.rawValue)
    }
}
