import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchWire

/// The one path from a received frame to a writer-ready batch, shared by the
/// TCP and UDP collectors: decode and validate the batch, prepare (normalize,
/// encode) the accepted beacons, refuse the ones no identifier survived, and
/// count what was received and refused.
///
/// Runs on an event loop; one per connection or socket, made in the
/// channel's initializer (its decoder keeps a zlib stream and its preparer a
/// normalizer cache). Not thread-safe, and deliberately not `Sendable`.
struct BatchIntake {
    enum Transport: String, CaseIterable {
        case tcp, udp, http
    }

    /// Most refused identifiers listed in one ack (all are counted): an ack
    /// must stay far below the frame limit whatever the batch holds.
    static let refusalsListedMax = 1000

    private let transport: Transport
    private let metrics: ServerMetrics
    private let clockMs: @Sendable () -> Int64
    private let decoder: BatchDecoder
    private var preparer: EventPreparer
    /// Per-site budgets; nil: none configured.
    private let quotas: SiteQuotas?

    init(
        transport: Transport, preparer: EventPreparer, metrics: ServerMetrics, limits: WireLimits = .standard,
        quotas: SiteQuotas? = nil, clockMs: @escaping @Sendable () -> Int64
    ) {
        self.quotas = quotas
        self.transport = transport
        self.preparer = preparer
        self.metrics = metrics
        self.decoder = BatchDecoder(limits: limits)
        self.clockMs = clockMs
    }

    /// The batch in `frame`, ready for the queue, or the typed error to
    /// answer it with (already counted).
    mutating func intake(_ frame: Frame, replyTo: (any AckTarget)?) -> Result<IngestItem, FrameError> {
        let receivedMs = clockMs()
        let batch: DecodedBatch
        do {
            batch = try decoder.decode(frame, receivedMs: receivedMs)
        } catch {
            rejected(error)
            return .failure(error)
        }
        metrics.beaconsReceived.increment(by: batch.beacons.count + batch.rejections.count)
        if let quotas {
            var counts: [UInt32: Int] = [:]
            for beacon in batch.beacons { counts[beacon.site, default: 0] += 1 }
            if let over = quotas.admit(counts) {
                let error = FrameError.overQuota(
                    site: over.key, beaconsPerSecond: over.perSecond, retryAfterMs: Int((over.retryAfterNanoseconds + 999_999) / 1_000_000))
                rejected(error)
                return .failure(error)
            }
        }
        if let offset = batch.clock.offsetLabel { metrics.deviceClockBatch(offset: offset) }
        var rejections = batch.rejections
        var refusals: [Stitch_V1_IdentifierRefusal] = []
        var refusalCount = 0
        var events: [PreparedEvent] = []
        var indexes: [UInt32] = []
        var renewals: [LeaseRenewal] = []
        events.reserveCapacity(batch.beacons.count)
        indexes.reserveCapacity(batch.beacons.count)
        for (beacon, index) in zip(batch.beacons, batch.beaconIndexes) {
            if case .leaseRenewal = beacon.body {
                // Not an event: the writer extends the session's lease.
                guard let (session, number) = preparer.renewal(beacon) else {
                    rejections.append(BeaconRejection(
                        index: Int(index), reason: .noIdentifiers, detail: "the renewal's session id was refused"))
                    continue
                }
                renewals.append(LeaseRenewal(site: beacon.site, session: session, timeMs: beacon.timeMs, trackingNumber: number))
                continue
            }
            let event = preparer.prepare(beacon, receivedMs: receivedMs)
            for refusal in event.refused {
                refusalCount += 1
                if refusals.count < Self.refusalsListedMax { refusals.append(.init(refusal, beaconIndex: index)) }
            }
            // A call may be placed by call tracking alone (a hidden caller);
            // any other event with no identifier could never be found again.
            if event.identifiers.isEmpty && event.type != .call {
                rejections.append(BeaconRejection(
                    index: Int(index), reason: .noIdentifiers,
                    detail: !event.refused.isEmpty
                        ? "every identifier was refused (see refused_identifiers)"
                        : event.dealKey.map { "deal \($0) is not known yet: send it once with its contact_id" } ?? "no identifier"))
                continue
            }
            events.append(event)
            indexes.append(index)
        }
        for rejection in rejections {
            metrics.beaconRejected(reason: rejection.reason.rawValue)
        }
        rejections.sort { $0.index < $1.index }
        let ack = Stitch_V1_BatchAck.with {
            $0.accepted = UInt32(events.count + renewals.count)
            $0.rejected = UInt32(rejections.count)
            $0.rejections = rejections.map(\.wireMessage)
            $0.refusedIdentifiers = refusals
            $0.identifiersRefused = UInt32(refusalCount)
        }
        return .success(IngestItem(
            events: events, beaconIndexes: indexes, sequence: batch.sequence, ack: ack, replyTo: replyTo,
            arrivedNanoseconds: IngestQueue.monotonicNanoseconds(), renewals: renewals))
    }

    /// Counts a frame refused before its batch could be decoded.
    func rejected(_ error: FrameError) {
        metrics.frameRejected(reason: error.code, transport: transport.rawValue)
    }
}

extension Stitch_V1_IdentifierRefusal {
    init(_ refusal: RefusedIdentifier, beaconIndex: UInt32) {
        self.init()
        index = beaconIndex
        kind = Stitch_V1_IdentifierKind(refusal.kind)
        reason = refusal.reason.code
        field = refusal.field
    }
}
