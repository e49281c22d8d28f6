import Foundation
import Logging
import NIOConcurrencyHelpers
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchStore
import StitchWire

/// The single writer (DESIGN.md §6): one thread takes groups of batches off
/// the queue, applies each group in one LMDB write transaction, commits once
/// (an fsync in `sync` mode), and only then tells every sender its outcome.
///
/// Groups grow by themselves under load: while one commit runs, the next
/// group gathers in the queue, so the fsync cost is shared by more beacons
/// exactly when there are more of them.
final class GraphWriter: Sendable {
    private let graph: IdentityGraph
    private let queue: IngestQueue
    private let metrics: ServerMetrics
    private let logger: Logger
    /// The server's clock: the time of the changes a commit records (an
    /// automatic quarantine), as the intake stamps `received_ms` with it.
    private let clockMs: @Sendable () -> Int64
    private let groupBeaconsMax: Int
    private let flushIntervalNanoseconds: Int64
    private let syncIntervalNanoseconds: Int64?
    private let finished = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])
    /// Where the store lives, to tell a full disk from other failures.
    private let dataDirectory: String

    init(
        graph: IdentityGraph,
        queue: IngestQueue,
        metrics: ServerMetrics,
        configuration: ServerConfiguration,
        logger: Logger,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.graph = graph
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
        self.clockMs = clockMs
        self.dataDirectory = configuration.dataDirectory
        self.groupBeaconsMax = configuration.groupBeaconsMax
        self.flushIntervalNanoseconds = Int64(configuration.flushIntervalMs) * 1_000_000
        self.syncIntervalNanoseconds =
            configuration.durability == .nosync ? Int64(configuration.syncIntervalMs) * 1_000_000 : nil
    }

    /// Starts the writer thread. It runs until the queue is closed and empty.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "stitch-writer"
        thread.start()
    }

    /// Returns once the writer has committed the last group and exited.
    func waitUntilFinished() async {
        await withCheckedContinuation { continuation in
            let done: Bool = finished.withLockedValue { waiters in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func run() {
        var lastSync = IngestQueue.monotonicNanoseconds()
        while let group = queue.takeGroup(beaconsMax: groupBeaconsMax, waitNanoseconds: flushIntervalNanoseconds) {
            metrics.queueDepth.record(queue.depth)
            let outcomes = commit(group)
            deliver(outcomes, of: group)
            if let interval = syncIntervalNanoseconds, IngestQueue.monotonicNanoseconds() - lastSync >= interval {
                syncStore()
                lastSync = IngestQueue.monotonicNanoseconds()
            }
        }
        if syncIntervalNanoseconds != nil { syncStore() }
        logger.info("writer stopped: queue drained, last group committed")
        let waiters = finished.withLockedValue { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Applies one group in one transaction and returns each batch's outcome.
    private func commit(_ group: [IngestItem]) -> [BatchOutcome] {
        var events: [PreparedEvent] = []
        events.reserveCapacity(group.reduce(0) { $0 + $1.events.count })
        for item in group { events.append(contentsOf: item.events) }
        guard !events.isEmpty else {
            return group.map { .committed(sequence: $0.sequence, ack: $0.ack) }
        }
        let start = ContinuousClock.now
        do {
            let report = try graph.apply(events, nowMs: clockMs())
            metrics.commitSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
            record(report, beacons: events.count)
            return acks(of: group, repeats: report.repeats, suppressed: report.suppressed)
        } catch {
            // A store failure (disk full, map cannot grow) loses no accepted
            // data: the transaction is aborted and every sender is told its
            // batch was not stored, so it resends.
            let reason = StoreFailure.describe(error, dataDirectory: dataDirectory)
            logger.error("group commit failed, \(group.count) batches refused: \(reason)")
            metrics.counter(.commitFailures).increment()
            let refusal = Stitch_V1_FrameError.with {
                $0.code = .storeUnavailable
                $0.message = "the store could not commit this batch (\(reason)); nothing of it is stored, resend it later"
            }
            return group.map { .refused(sequence: $0.sequence, error: refusal) }
        }
    }

    /// Each batch's ack, with the repeats and suppressed beacons the graph
    /// found among its events (positions in the group's events, ascending).
    private func acks(of group: [IngestItem], repeats: [Int], suppressed: [Int]) -> [BatchOutcome] {
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

    private func record(_ report: ApplyReport, beacons: Int) {
        metrics.groupCommits.increment()
        metrics.groupBeacons.record(beacons)
        metrics.beaconsAccepted.increment(by: beacons - report.repeats.count - report.suppressed.count)
        metrics.counter(.beaconsSuppressed).increment(by: report.suppressed.count)
        metrics.counter(.quarantines, [("source", "automatic")]).increment(by: report.quarantined)
        metrics.counter(.personsSplit).increment(by: report.splits)
        if report.quarantinesRefused > 0 {
            logger.warning("the shared-identifier rule tripped on \(report.quarantinesRefused) identifiers in persons too large to repair in one transaction (guards set above \(GraphLimits.repairIdentifiersMax) identifiers); they stay linked: quarantine them by hand after lowering the guards")
        }
        metrics.counter(.beaconsRepeated).increment(by: report.repeats.count)
        metrics.counter(.dedupOutsideWindow).increment(by: report.dedupOutsideWindow)
        metrics.counter(.dedupPruned).increment(by: report.dedupPruned)
        metrics.eventsStored.increment(by: report.events)
        metrics.merges.increment(by: report.merges)
        for (code, count) in report.identifiersRejected {
            metrics.counter(.identifiersRejected, [("reason", code)]).increment(by: count)
        }
        for (reason, count) in report.conflicts {
            metrics.counter(.conflicts, [("reason", reason)]).increment(by: count)
        }
        metrics.counter(.identifiersCreated).increment(by: report.identifiersCreated)
        metrics.counter(.calls, [("match", "session")]).increment(by: report.callsMatched)
        metrics.counter(.calls, [("match", "waiting")]).increment(by: report.callsUnmatched)
        metrics.counter(.callsMatchedLate).increment(by: report.callsMatchedLate)
        graph.callTracking.noteActivity(report.leaseActivity)
        let info = graph.storeInfo()
        metrics.storeBytes.record(info.usedBytes)
        metrics.mapBytes.record(info.mapBytes)
    }

    /// Hands each sender its outcomes, one call per sender per group, in
    /// commit order.
    private func deliver(_ outcomes: [BatchOutcome], of group: [IngestItem]) {
        var order: [ObjectIdentifier] = []
        var bySender: [ObjectIdentifier: (target: any AckTarget, outcomes: [BatchOutcome])] = [:]
        for (item, outcome) in zip(group, outcomes) {
            guard let target = item.replyTo else { continue }
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

    private func syncStore() {
        do {
            try graph.sync()
        } catch {
            logger.error("periodic sync failed: \(error)")
            metrics.counter(.syncFailures).increment()
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating far beyond any commit).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
