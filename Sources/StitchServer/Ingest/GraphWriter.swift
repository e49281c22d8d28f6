import Foundation
import Logging
import NIOConcurrencyHelpers
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchStore
import StitchWire

/// The writer (DESIGN.md §6): one thread takes groups of batches off the
/// queue, splits each group by shard, applies every shard's part in one LMDB
/// write transaction of that shard — the parts in parallel, one on this
/// thread and the others on `ShardWorker`s — commits each (an fsync per shard
/// in `sync` mode; in `log` mode the part is first appended to the shard's
/// group log and flushed there, `ShardGroupLogs`), and only then tells every
/// sender its outcome.
///
/// Groups grow by themselves under load: while one commit runs, the next
/// group gathers in the queue, so the fsync cost is shared by more beacons
/// exactly when there are more of them.
///
/// Why one queue and one group for all shards rather than a queue per shard:
/// a batch may hold beacons of sites in different shards, and FRAMING.md
/// promises its one ACK only once all of them are durable, in the order the
/// connection sent its batches. A group that ends when every shard's part
/// has committed keeps both promises with no reordering anywhere; the price
/// is that a group waits for its slowest shard. A shard's input stays a
/// stream of prepared events (`IdentityGraph.apply`), never a socket, so a
/// shard can later move to another machine (DESIGN.md §8).
final class GraphWriter: IngestConsumer {
    private let graph: ShardedGraph
    /// Threads for shards 1…N−1's parts; the writer thread applies one part itself.
    private let workers: [ShardWorker]
    private let queue: IngestQueue
    private let metrics: ServerMetrics
    private let logger: Logger
    /// The server's clock: the time of the changes a commit records (an
    /// automatic quarantine), as the intake stamps `received_ms` with it.
    private let clockMs: @Sendable () -> Int64
    private let groupBeaconsMax: Int
    private let ingestPriority: ThreadScheduling.IngestPriority
    private let ingestNice: Int
    private let flushIntervalNanoseconds: Int64
    /// `nosync` and `log` modes' periodic checkpoint; nil in `sync` mode
    /// (every commit syncs).
    private let syncer: StoreSyncer?
    /// `log` mode's group logs; nil otherwise.
    private let groupLogs: ShardGroupLogs?
    private let finished = FinishedSignal()
    /// Where the store lives, to tell a full disk from other failures.
    private let dataDirectory: String

    init(
        graph: ShardedGraph,
        queue: IngestQueue,
        metrics: ServerMetrics,
        configuration: ServerConfiguration,
        groupLogs: ShardGroupLogs?,
        logger: Logger,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.graph = graph
        self.groupLogs = groupLogs
        self.ingestPriority = configuration.ingestPriority
        self.ingestNice = configuration.ingestNice
        self.workers = (1..<graph.layout.count).map {
            ShardWorker(name: "stitch-shard-\($0)", priority: configuration.ingestPriority, nice: configuration.ingestNice)
        }
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
        self.clockMs = clockMs
        self.dataDirectory = configuration.dataDirectory
        self.groupBeaconsMax = configuration.groupBeaconsMax
        self.flushIntervalNanoseconds = Int64(configuration.flushIntervalMs) * 1_000_000
        self.syncer = StoreSyncer.forDurability(
            of: configuration, graph: graph, groupLogs: groupLogs, metrics: metrics, logger: logger)
    }

    /// Starts the writer thread (and in `nosync` and `log` modes the
    /// checkpoint thread). It runs until the queue is closed and empty.
    func start() {
        syncer?.start(priority: ingestPriority, nice: ingestNice)
        ThreadScheduling.startIngestThread("stitch-writer", priority: ingestPriority, nice: ingestNice) { [self] in run() }
    }

    /// Returns once the writer has committed the last group and exited.
    func waitUntilFinished() async {
        await finished.wait()
    }

    private func run() {
        queue.consumeGroups(beaconsMax: groupBeaconsMax, waitNanoseconds: flushIntervalNanoseconds, metrics: metrics) {
            commit($0)
        }
        syncer?.stop()
        for worker in workers { worker.stop() }
        logger.info("writer stopped: queue drained, last group committed")
        finished.finish()
    }

    /// Applies one group, each shard's part in one transaction of that shard,
    /// and returns each batch's outcome.
    private func commit(_ group: [IngestItem]) -> [BatchOutcome] {
        let split = GroupParts(group, layout: graph.layout)
        let busy = split.busy
        guard !busy.isEmpty else {
            return group.map { .committed(sequence: $0.sequence, ack: $0.ack) }
        }
        let nowMs = clockMs()
        // Every part but the first on its shard's worker; the first here.
        for shard in busy.dropFirst() {
            let part = split.parts[shard]
            workers[shard - 1].run { [self] in apply(part.events, renewals: part.renewals, shard: shard, nowMs: nowMs) }
        }
        var results = [Result<ApplyReport, any Error>?](repeating: nil, count: split.parts.count)
        let first = split.parts[busy[0]]
        results[busy[0]] = apply(first.events, renewals: first.renewals, shard: busy[0], nowMs: nowMs)
        for shard in busy.dropFirst() { results[shard] = workers[shard - 1].wait() }
        var repeats: [Int] = []
        var suppressed: [Int] = []
        var failed = [Bool](repeating: false, count: split.parts.count)
        var failure: (any Error)?
        for shard in busy {
            switch results[shard]! {
            case .success(let report):
                repeats += report.repeats.map { split.parts[shard].positions[$0] }
                suppressed += report.suppressed.map { split.parts[shard].positions[$0] }
            case .failure(let error):
                failure = error
                failed[shard] = true
            }
        }
        repeats.sort()
        suppressed.sort()
        var outcomes = IngestItem.completedAcks(of: group, repeats: repeats, suppressed: suppressed)
        if let failure {
            // A store failure (disk full, map cannot grow) loses no accepted
            // data: that shard's transaction is aborted and every batch with a
            // beacon in it is told it was not stored, so it resends (event ids
            // make the parts other shards did commit repeats, not copies).
            let reason = StoreFailure.describe(failure, dataDirectory: dataDirectory)
            let refusal = Stitch_V1_FrameError.with {
                $0.code = .storeUnavailable
                $0.message = "the store could not commit this batch (\(reason)); resend it later (a part another shard stored comes back as repeats: event ids)"
            }
            var refused = 0
            for (index, touched) in split.batchesTouching(failed: failed).enumerated() where touched {
                outcomes[index] = .refused(sequence: group[index].sequence, error: refusal)
                refused += 1
            }
            logger.error("group commit failed, \(refused) batches refused: \(reason)")
            metrics.counter(.commitFailures).increment()
        }
        let info = graph.storeInfo()
        metrics.storeBytes.record(info.usedBytes)
        metrics.mapBytes.record(info.mapBytes)
        return outcomes
    }

    /// Applies and commits one shard's part; runs on the writer thread or a worker.
    private func apply(
        _ events: [PreparedEvent], renewals: [LeaseRenewal], shard: Int, nowMs: Int64
    ) -> Result<ApplyReport, any Error> {
        let start = ContinuousClock.now
        do {
            let report = try groupLogs.map { logs in
                try logs.apply(events, renewals: renewals, nowMs: nowMs, shard: shard, graph: graph.shards[shard])
            } ?? graph.shards[shard].apply(events, renewals: renewals, nowMs: nowMs)
            metrics.commitSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
            record(report, beacons: events.count)
            return .success(report)
        } catch {
            return .failure(error)
        }
    }

    private func record(_ report: ApplyReport, beacons: Int) {
        metrics.groupCommits.increment()
        Self.record(report, beacons: beacons, graph: graph, metrics: metrics, logger: logger)
    }

    /// Counts what one applied part did, and tells call tracking which
    /// numbers it holds (the writer's group commits and a replica's log apply).
    static func record(_ report: ApplyReport, beacons: Int, graph: ShardedGraph, metrics: ServerMetrics, logger: Logger) {
        metrics.groupBeacons.record(beacons)
        if report.commitCost.pagesWritten > 0 {
            metrics.commitPages.record(report.commitCost.pagesWritten)
            metrics.pagesWritten.increment(by: report.commitCost.pagesWritten)
        }
        if report.commitCost.commitNanoseconds > 0 {
            metrics.commitStoreSeconds.recordNanoseconds(report.commitCost.commitNanoseconds)
        }
        metrics.beaconsAccepted.increment(by: beacons - report.repeats.count - report.suppressed.count)
        metrics.counter(.beaconsSuppressed).increment(by: report.suppressed.count)
        metrics.counter(.quarantines, [("source", "automatic")]).increment(by: report.quarantined)
        metrics.counter(.personsSplit).increment(by: report.splits)
        if report.quarantinesRefused > 0 {
            logger.warning("the shared-identifier rule tripped on \(report.quarantinesRefused) identifiers in persons too large to repair in one transaction (guards set above \(GraphLimits.repairIdentifiersMax) identifiers); they stay linked: quarantine them by hand after lowering the guards")
        }
        metrics.counter(.beaconsRepeated).increment(by: report.repeats.count)
        metrics.counter(.dedupExpiredReplaced).increment(by: report.dedupExpiredReplaced)
        metrics.counter(.indexDeferred).increment(by: report.indexDeferred)
        metrics.counter(.indexWrittenBehind).increment(by: report.indexWrittenBehind)
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
        metrics.counter(.leaseRenewalsApplied).increment(by: report.leasesRenewed)
        graph.callTracking.noteActivity(report.leaseActivity)
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating far beyond any commit).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
