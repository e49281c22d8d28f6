import NIOCore

/// The collector's decoder for BATCH frames: whole frame in, accepted beacons
/// and per-beacon rejections out. One per event loop or connection (it owns a
/// `PayloadDecoder`).
public final class BatchDecoder {
    /// The limits every frame and beacon is checked against.
    public let limits: WireLimits
    private let payloadDecoder: PayloadDecoder
    private let validator: BeaconValidator

    public init(limits: WireLimits = .standard) {
        self.limits = limits
        self.payloadDecoder = PayloadDecoder(limits: limits)
        self.validator = BeaconValidator(limits: limits)
    }

    /// Decodes and validates one BATCH frame, and puts the times of a
    /// device-clock batch on the collector's clock (`BatchClock`).
    ///
    /// - Parameter receivedMs: when the frame arrived, by the collector's clock.
    ///
    /// Throws for a frame refused as a whole (every beacon in it is lost to
    /// the server, and the client is told so). Otherwise every beacon is either
    /// in `beacons` or in `rejections`.
    public func decode(_ frame: Frame, receivedMs: Int64) throws(FrameError) -> DecodedBatch {
        guard frame.header.sequence != 0 || frame.header.type != .batch else { throw .badSequence }
        let beaconsMax = limits.batchBeaconsMax
        let batch = try payloadDecoder.withPlainPayload(frame, expecting: .batch) { (bytes) throws(FrameError) in
            // Bounded before anything is decoded.
            let count = try ProtobufScan.count(field: 1, in: bytes)
            if count > beaconsMax { throw .tooManyBeacons(count: count, max: beaconsMax) }
            return try BeaconBatchWireDecoder.decode(bytes)
        }
        guard !batch.beacons.isEmpty else { throw .emptyBatch }
        let clock = BatchClock(batch, receivedMs: receivedMs, timeMsMax: limits.timeMsMax)
        var decoded = DecodedBatch(sequence: frame.header.sequence, clock: clock)
        decoded.beacons.reserveCapacity(batch.beacons.count)
        for (index, beacon) in batch.beacons.enumerated() {
            if let (reason, detail) = validator.problem(in: beacon) {
                decoded.rejections.append(BeaconRejection(index: index, reason: reason, detail: detail))
                continue
            }
            var beacon = beacon
            if let detail = clock.rebase(&beacon) {
                decoded.rejections.append(BeaconRejection(index: index, reason: .badTime, detail: detail))
                continue
            }
            decoded.beacons.append(beacon)
            decoded.beaconIndexes.append(UInt32(index))
        }
        return decoded
    }
}

/// A batch that passed frame checks: its beacons split into the accepted and
/// the rejected, in batch order.
public struct DecodedBatch: Sendable {
    /// The frame's sequence number, echoed in the ack.
    public var sequence: UInt64
    /// Whose clock the batch's times were on (its beacons' times are already
    /// on the collector's clock).
    public var clock: BatchClock
    /// Beacons that passed validation, in batch order.
    public var beacons: [Stitch_V1_Beacon] = []
    /// Each accepted beacon's position in the batch, from 0.
    public var beaconIndexes: [UInt32] = []
    /// Beacons that did not, with why.
    public var rejections: [BeaconRejection] = []

    public init(sequence: UInt64, clock: BatchClock = .asSent) {
        self.sequence = sequence
        self.clock = clock
    }

}
