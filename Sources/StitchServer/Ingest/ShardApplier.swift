import Foundation
import Logging
import StitchGraph

/// `ack_after = log`: one shard's apply, on a thread of its own, right
/// behind the `LogFirstWriter` that logged and acked the shard's parts.
///
/// It takes every part waiting (up to `transactionBeaconsMax` beacons) into
/// one LMDB transaction, which records the last part's group-log sequence
/// (`IdentityGraph.apply(segments:first:)`, as a restart's replay and a
/// cluster replica do), so a part is applied exactly once whatever crashes,
/// and the store after N parts is the same however they were grouped.
/// Under load that makes the transactions larger than the groups, and
/// each leaf a transaction touches is written once for all of them.
///
/// The backlog (parts logged, not yet applied) is bounded: `enqueue` waits
/// while it holds `backlogBeaconsMax` beacons, so the writer stops taking
/// groups and the collector pushes back, and a restart never replays more
/// than that beyond the checkpoint's interval.
final class ShardApplier: @unchecked Sendable {
    /// A shard's part of a group, on disk in its group log as record `sequence`.
    struct LoggedPart: Sendable {
        let sequence: UInt64
        let segment: ApplySegment
        /// What it weighs in the backlog: its events and renewals, at least 1.
        var weight: Int { max(1, segment.events.count + segment.renewals.count) }
    }

    let shard: Int
    private let graph: ShardedGraph
    private let positions: LogPositions
    private let metrics: ServerMetrics
    private let logger: Logger
    private let backlogBeaconsMax: Int
    private let transactionBeaconsMax: Int
    private let clockMs: @Sendable () -> Int64
    /// Whether the server is stopping (its ingest queue closed): a store
    /// that keeps failing then is left to the replay, so a writer waiting
    /// for room in the backlog is let go and the stop can finish.
    private let isStopping: @Sendable () -> Bool
    private let exited = DispatchSemaphore(value: 0)

    /// Guards the fields below it.
    private let condition = NSCondition()
    /// Logged, not taken by the thread yet, oldest first.
    private var inbox: [LoggedPart] = []
    /// The weight of `inbox` and of the parts being applied.
    private var backlog = 0
    /// The last sequence handed to `enqueue`.
    private var lastLogged: UInt64
    /// No more parts come; the thread exits once the inbox is empty.
    private var finishing = false

    /// A store that keeps failing at shutdown is left to the next start's
    /// replay after this many tries of one transaction (each part after it
    /// then fails at once: its sequence no longer follows the store's).
    static let shutdownTriesMax = 3
    /// The pause between tries of a transaction that failed.
    static let retryPauseMicroseconds: UInt32 = 250_000

    /// `applied`: the last sequence the shard's store holds (after recovery,
    /// the group log's last record).
    init(
        shard: Int, applied: UInt64, graph: ShardedGraph, positions: LogPositions, metrics: ServerMetrics,
        backlogBeaconsMax: Int, transactionBeaconsMax: Int, logger: Logger, clockMs: @escaping @Sendable () -> Int64,
        isStopping: @escaping @Sendable () -> Bool
    ) {
        self.isStopping = isStopping
        self.shard = shard
        self.graph = graph
        self.positions = positions
        self.metrics = metrics
        self.backlogBeaconsMax = backlogBeaconsMax
        self.transactionBeaconsMax = transactionBeaconsMax
        self.logger = logger
        self.clockMs = clockMs
        lastLogged = applied
        positions.advance(shard, to: applied)
        metrics.logApplied(partition: shard, applied: applied, last: applied, stopped: false)
    }

    func start(priority: ThreadScheduling.IngestPriority, nice: Int) {
        ThreadScheduling.startIngestThread("stitch-apply-\(shard)", priority: priority, nice: nice) { [self] in
            while let parts = take() { applyRetrying(parts) }
            exited.signal()
        }
    }

    /// Hands a logged part to the thread; waits first while the backlog is
    /// full. Parts come in sequence order, one after another.
    func enqueue(_ part: LoggedPart) {
        condition.lock()
        while backlog > 0 && backlog + part.weight > backlogBeaconsMax { condition.wait() }
        inbox.append(part)
        backlog += part.weight
        lastLogged = part.sequence
        condition.broadcast()
        condition.unlock()
    }

    /// Applies what is left, then ends the thread; returns once it has.
    func finish() {
        condition.lock()
        finishing = true
        condition.broadcast()
        condition.unlock()
        exited.wait()
    }

    /// The next parts for one transaction, oldest first; nil once finishing
    /// with nothing left.
    private func take() -> [LoggedPart]? {
        condition.lock()
        defer { condition.unlock() }
        while inbox.isEmpty && !finishing { condition.wait() }
        guard !inbox.isEmpty else { return nil }
        var count = 0
        var beacons = 0
        while count < inbox.count, count == 0 || beacons + inbox[count].weight <= transactionBeaconsMax {
            beacons += inbox[count].weight
            count += 1
        }
        let parts = Array(inbox.prefix(count))
        inbox.removeFirst(count)
        return parts
    }

    /// Applies `parts` in one transaction, trying again after a failure (a
    /// full disk, a map that cannot grow): they are on disk in the log, and
    /// meanwhile the backlog fills and ingest waits. At shutdown it gives up
    /// after a few tries and leaves them, and what follows, to the replay.
    private func applyRetrying(_ parts: [LoggedPart]) {
        var tries = 0
        while true {
            do {
                try apply(parts)
                break
            } catch {
                tries += 1
                if tries == 1 {
                    logger.error("shard \(shard): applying logged groups \(parts[0].sequence)…\(parts[parts.count - 1].sequence) failed (\(error)); they are acked and on disk in the group log, trying again every \(Self.retryPauseMicroseconds / 1000) ms while ingest waits")
                    metrics.counter(.commitFailures).increment()
                    // `stitch_log_apply_stopped{partition}` says so until a try succeeds.
                    metrics.logApplied(partition: shard, applied: parts[0].sequence - 1, last: lastLoggedNow, stopped: true)
                }
                if isFinishing || isStopping(), tries >= Self.shutdownTriesMax {
                    abandonAtShutdown(after: parts, error: error)
                    return
                }
                usleep(Self.retryPauseMicroseconds)
            }
        }
        condition.lock()
        backlog -= parts.reduce(0) { $0 + $1.weight }
        condition.broadcast()
        condition.unlock()
    }

    private func apply(_ parts: [LoggedPart]) throws {
        let start = ContinuousClock.now
        let reports = try graph.shards[shard].apply(segments: parts.map(\.segment), first: parts[0].sequence)
        metrics.commitSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        metrics.groupCommits.increment()
        metrics.counter(.logEntriesApplied).increment(by: parts.count)
        let nowMs = clockMs()
        for (part, report) in zip(parts, reports) {
            GraphWriter.record(report, beacons: part.segment.events.count, graph: graph, metrics: metrics, logger: logger)
            metrics.logApplyLagSeconds.recordNanoseconds(max(0, nowMs - part.segment.nowMs) * 1_000_000)
        }
        let applied = parts[parts.count - 1].sequence
        positions.advance(shard, to: applied)
        metrics.logApplied(partition: shard, applied: applied, last: lastLoggedNow, stopped: false)
    }

    private var isFinishing: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finishing
    }

    private var lastLoggedNow: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return lastLogged
    }

    /// The store cannot take `parts` as the server stops: they and every
    /// part after them stay in the group log, which the next start replays
    /// (its records are deleted only once a checkpoint holds them).
    private func abandonAtShutdown(after parts: [LoggedPart], error: any Error) {
        condition.lock()
        let left = inbox.count
        inbox.removeAll()
        backlog = 0
        condition.broadcast()
        condition.unlock()
        logger.error("shard \(shard): stopping with logged groups \(parts[0].sequence)… (\(parts.count + left) in all) not applied (\(error)); the next start replays them from the group log")
        metrics.logApplied(partition: shard, applied: parts[0].sequence - 1, last: lastLoggedNow, stopped: true)
    }
}
