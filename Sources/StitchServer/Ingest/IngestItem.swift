import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire

/// One decoded batch on its way to the writer.
struct IngestItem: Sendable {
    /// Beacons that passed validation, in batch order, prepared (normalized
    /// and encoded) on the event loop so the writer only does graph work.
    var events: [PreparedEvent]
    /// Each event's position in its batch, from 0 (rejected beacons leave gaps).
    var beaconIndexes: [UInt32]
    /// The frame's sequence, echoed in the ack.
    var sequence: UInt64
    /// The ack to send once `events` are committed (counts and rejections);
    /// the writer adds the repeats it found.
    var ack: Stitch_V1_BatchAck
    /// Where the ack goes; `nil` for UDP, which is never answered.
    var replyTo: (any AckTarget)?
    /// When the batch was decoded (`IngestQueue.monotonicNanoseconds`), for
    /// `stitch_batch_ack_seconds`; 0 when unknown.
    var arrivedNanoseconds: Int64 = 0
    /// Leases open pages renewed (`GET /v1/lease?renew=1`); they ride the
    /// writer's group commit and store no event.
    var renewals: [LeaseRenewal] = []

    /// What the item weighs in the queue's bounds: its events and renewals.
    var weight: Int { events.count + renewals.count }

    /// An item carrying renewals only, with nothing to answer.
    static func renewals(_ renewals: [LeaseRenewal]) -> IngestItem {
        IngestItem(events: [], beaconIndexes: [], sequence: 0, ack: Stitch_V1_BatchAck(), replyTo: nil,
            arrivedNanoseconds: IngestQueue.monotonicNanoseconds(), renewals: renewals)
    }
}

/// What the writer tells a batch's sender after its group commit.
enum BatchOutcome: Sendable {
    /// Every accepted beacon of the batch is committed.
    case committed(sequence: UInt64, ack: Stitch_V1_BatchAck)
    /// The batch was not stored (the commit failed, or the server is stopping).
    case refused(sequence: UInt64, error: Stitch_V1_FrameError)
}

/// A sender waiting for acks: the TCP connection a batch came from.
protocol AckTarget: AnyObject, Sendable {
    /// Called by the writer thread, in commit order, once per group commit
    /// with every outcome of this sender's batches in that group.
    func deliver(_ outcomes: [BatchOutcome])
}

extension IngestItem {
    /// Each batch's ack once its group has committed: the ack `BatchIntake`
    /// made (counts, rejections, refused identifiers), with the repeats and
    /// suppressed beacons the graph found among the group's events
    /// (`repeats` and `suppressed` are positions in the group's events,
    /// ascending) put back at each batch's own beacon indexes.
    static func completedAcks(of group: [IngestItem], repeats: [Int], suppressed: [Int]) -> [BatchOutcome] {
        var outcomes: [BatchOutcome] = []
        outcomes.reserveCapacity(group.count)
        var next = 0
        var nextSuppressed = 0
        var offset = 0
        for item in group {
            var ack = item.ack
            let end = offset + item.events.count
            while next < repeats.count, repeats[next] < end {
                ack.repeatIndexes.append(item.beaconIndexes[repeats[next] - offset])
                next += 1
            }
            while nextSuppressed < suppressed.count, suppressed[nextSuppressed] < end {
                ack.suppressed += 1
                nextSuppressed += 1
            }
            ack.repeated = UInt32(ack.repeatIndexes.count)
            ack.accepted -= ack.repeated + ack.suppressed
            outcomes.append(.committed(sequence: item.sequence, ack: ack))
            offset = end
        }
        return outcomes
    }
}

extension IngestItem {
    /// Hands each sender its outcomes, one call per sender per group, in
    /// the group's order (the writer after a commit, the publisher after
    /// the log's acks).
    static func deliver(_ outcomes: [BatchOutcome], of group: [IngestItem], metrics: ServerMetrics) {
        var order: [ObjectIdentifier] = []
        var bySender: [ObjectIdentifier: (target: any AckTarget, outcomes: [BatchOutcome])] = [:]
        let now = IngestQueue.monotonicNanoseconds()
        for (item, outcome) in zip(group, outcomes) {
            guard let target = item.replyTo else { continue }
            if item.arrivedNanoseconds > 0 { metrics.batchAckSeconds.recordNanoseconds(now - item.arrivedNanoseconds) }
            let id = ObjectIdentifier(target)
            if bySender[id] == nil {
                order.append(id)
                bySender[id] = (target, [])
            }
            bySender[id]!.outcomes.append(outcome)
        }
        for id in order {
            let entry = bySender[id]!
            entry.target.deliver(entry.outcomes)
        }
    }
}

/// What takes batches off the `IngestQueue`: the writer of a single node,
/// or a cluster node's log publisher.
protocol IngestConsumer: Sendable {
    /// Starts its thread; it runs until the queue is closed and empty.
    func start()
    /// Returns once the last group is answered and the thread has exited.
    func waitUntilFinished() async
}
