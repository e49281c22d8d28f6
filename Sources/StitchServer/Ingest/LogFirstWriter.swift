import Foundation
import Logging
import StitchGraph
import StitchStore
import StitchWire

/// The writer of `ack_after = log`: one thread takes groups of batches off
/// the queue as `GraphWriter` does, appends each shard's part to the shard's
/// group log (the shards' appends and fsyncs at once, on their log queues),
/// answers every batch once all its parts are on disk — with each shard's
/// log position, as a cluster node answers once JetStream has them — and
/// hands the parts to the shards' `ShardApplier`s, which commit them to the
/// stores right behind.
///
/// Why: with `ack_after = commit` an ack waits for its group's apply and
/// commit, and at a steady rate far below the maximum the writers are busy
/// most of the time with small groups, so a slow second of the machine
/// leaves a queue every ack waits behind (docs/performance.md). Here an ack
/// waits for one sequential write and fsync per shard, and the apply takes
/// what piled up into one transaction.
///
/// What the ack gives up: it cannot count repeats or suppressed beacons
/// (found by the apply), and a lookup sent right after it may not see the
/// beacons yet unless it asks with `min_position` (the ack's positions). A
/// resent beacon is still stored once: the apply drops it by its event id.
///
/// `@unchecked Sendable`: `broken` is the writer thread's own.
final class LogFirstWriter: IngestConsumer, @unchecked Sendable {
    private let graph: ShardedGraph
    private let groupLogs: ShardGroupLogs
    private let appliers: [ShardApplier]
    private let positions: LogPositions
    private let queue: IngestQueue
    private let metrics: ServerMetrics
    private let logger: Logger
    private let clockMs: @Sendable () -> Int64
    private let groupBeaconsMax: Int
    private let flushIntervalNanoseconds: Int64
    private let ingestPriority: ThreadScheduling.IngestPriority
    private let ingestNice: Int
    private let syncer: StoreSyncer?
    private let dataDirectory: String
    private let finished = FinishedSignal()
    /// Shards whose log holds a record that failed and could not be taken
    /// back: their parts are refused until a restart replays the log.
    private var broken: [Int: String] = [:]

    /// `positions`: where each shard's apply is, for `min_position` queries.
    init(
        graph: ShardedGraph, queue: IngestQueue, metrics: ServerMetrics, configuration: ServerConfiguration,
        groupLogs: ShardGroupLogs, positions: LogPositions, logger: Logger, clockMs: @escaping @Sendable () -> Int64
    ) throws {
        self.graph = graph
        self.groupLogs = groupLogs
        self.positions = positions
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
        self.clockMs = clockMs
        groupBeaconsMax = configuration.groupBeaconsMax
        flushIntervalNanoseconds = Int64(configuration.flushIntervalMs) * 1_000_000
        ingestPriority = configuration.ingestPriority
        ingestNice = configuration.ingestNice
        dataDirectory = configuration.dataDirectory
        syncer = StoreSyncer.forDurability(
            of: configuration, graph: graph, groupLogs: groupLogs, metrics: metrics, logger: logger)
        appliers = try graph.shards.indices.map { shard in
            ShardApplier(
                shard: shard, applied: try graph.shards[shard].appliedLogSequence(), graph: graph, positions: positions,
                metrics: metrics, backlogBeaconsMax: configuration.applyBacklogBeaconsMax,
                transactionBeaconsMax: configuration.groupBeaconsMax, logger: logger, clockMs: clockMs,
                isStopping: { queue.isClosed })
        }
    }

    func start() {
        syncer?.start(priority: ingestPriority, nice: ingestNice)
        for applier in appliers { applier.start(priority: ingestPriority, nice: ingestNice) }
        ThreadScheduling.startIngestThread("stitch-writer", priority: ingestPriority, nice: ingestNice) { [self] in run() }
    }

    func waitUntilFinished() async {
        await finished.wait()
    }

    private func run() {
        queue.consumeGroups(beaconsMax: groupBeaconsMax, waitNanoseconds: flushIntervalNanoseconds, metrics: metrics) {
            log($0)
        }
        for applier in appliers { applier.finish() }
        syncer?.stop()
        logger.info("writer stopped: queue drained, last group logged and applied")
        finished.finish()
    }

    /// Logs one group, each shard's part as one record of its group log,
    /// queues the parts that reached the disk for their appliers, and
    /// returns each batch's outcome.
    private func log(_ group: [IngestItem]) -> [BatchOutcome] {
        let split = GroupParts(group, layout: graph.layout)
        guard !split.busy.isEmpty else {
            return group.map { .committed(sequence: $0.sequence, ack: $0.ack) }
        }
        let nowMs = clockMs()
        var appends: [Int: (sequence: UInt64, append: PendingLogAppend)] = [:]
        for shard in split.busy where broken[shard] == nil {
            let part = split.parts[shard]
            appends[shard] = groupLogs.append(part.events, renewals: part.renewals, nowMs: nowMs, shard: shard)
        }
        var sequences = [UInt64?](repeating: nil, count: split.parts.count)
        var failed = [Bool](repeating: false, count: split.parts.count)
        var reasons: [String] = []
        for shard in split.busy {
            guard let (sequence, append) = appends[shard] else {
                failed[shard] = true
                reasons.append(broken[shard]!)
                continue
            }
            do {
                try append.wait()
                sequences[shard] = sequence
                positions.noteLogged(shard, through: sequence)
            } catch {
                failed[shard] = true
                let reason = StoreFailure.describe(error, dataDirectory: dataDirectory)
                reasons.append(reason)
                if !groupLogs.takeBack(append, sequence: sequence, shard: shard) {
                    broken[shard] = "shard \(shard)'s group log holds a record it could not write or take back (\(reason)); restart the server to replay it"
                    logger.critical("\(broken[shard]!)")
                }
            }
        }
        // The appliers get their parts once every shard's append is done: a
        // part waiting for a full backlog holds no other shard's ack.
        for shard in split.busy {
            guard let sequence = sequences[shard] else { continue }
            let part = split.parts[shard]
            appliers[shard].enqueue(.init(
                sequence: sequence, segment: ApplySegment(events: part.events, renewals: part.renewals, nowMs: nowMs)))
        }
        let touched = split.batchesTouching(failed: failed)
        var refused = 0
        var outcomes: [BatchOutcome] = []
        outcomes.reserveCapacity(group.count)
        for (index, item) in group.enumerated() {
            if touched[index] {
                refused += 1
                outcomes.append(.refused(sequence: item.sequence, error: .with {
                    $0.code = .storeUnavailable
                    $0.message = "the group log could not take this batch (\(reasons.first ?? "")); resend it later (a part another shard logged comes back stored once: event ids)"
                }))
                continue
            }
            var ack = item.ack
            ack.logPositions = split.shards(ofBatch: index).map { shard in
                .with {
                    $0.partition = UInt32(shard)
                    $0.sequence = sequences[shard]!
                }
            }
            outcomes.append(.committed(sequence: item.sequence, ack: ack))
        }
        if refused > 0 {
            logger.error("group log append failed, \(refused) batches refused: \(reasons.first ?? "")")
            metrics.counter(.commitFailures).increment()
        }
        let info = graph.storeInfo()
        metrics.storeBytes.record(info.usedBytes)
        metrics.mapBytes.record(info.mapBytes)
        return outcomes
    }
}
