import Foundation
import Logging
import StitchGraph

/// `nosync` and `log` modes' periodic checkpoint, on a thread of its own:
/// every `sync_interval_ms` it takes a checkpoint of each shard
/// (`Environment.checkpoint()`: flushes its committed pages to disk with
/// `mdb_env_sync` while the writer goes on committing), then deletes the
/// group-log files the checkpoint holds and lays down the zeros of the next
/// ones (`GroupLog.prepareSpare()`).
///
/// Why not on the writer thread, between groups, as before: one sync flushes
/// a whole interval of commits' pages, hundreds of milliseconds on a grown
/// store, and every batch queued behind it waited that long. At 50,000
/// beacons/s on a 12.7M-event store the acks' p99 was 191–219 ms with the
/// sync there and is 21–26 ms with it here (docs/performance.md).
/// `mdb_env_sync` takes no LMDB lock (it is an `fdatasync` of the data
/// file), so it runs beside a write transaction. Syncing on a clock also
/// keeps the promise when ingest stops: the writer only synced when a group
/// came, so the last commits before a quiet spell waited for the kernel.
final class StoreSyncer: @unchecked Sendable {
    private let graph: ShardedGraph
    private let groupLogs: ShardGroupLogs?
    private let intervalNanoseconds: Int64
    private let metrics: ServerMetrics
    private let logger: Logger
    /// Signalled by `stop()`; the thread's timed wait on it is its clock.
    private let stopRequested = DispatchSemaphore(value: 0)
    /// Signalled by the thread as it exits.
    private let exited = DispatchSemaphore(value: 0)

    /// The periodic checkpoint `configuration.durability` calls for: none in
    /// `sync` mode, where every commit is flushed. The single-node writer and
    /// a cluster replica both take theirs from here.
    static func forDurability(
        of configuration: ServerConfiguration, graph: ShardedGraph, groupLogs: ShardGroupLogs?, metrics: ServerMetrics,
        logger: Logger
    ) -> StoreSyncer? {
        guard configuration.durability != .sync else { return nil }
        return StoreSyncer(
            graph: graph, groupLogs: groupLogs, intervalNanoseconds: Int64(configuration.syncIntervalMs) * 1_000_000,
            metrics: metrics, logger: logger)
    }

    private init(graph: ShardedGraph, groupLogs: ShardGroupLogs?, intervalNanoseconds: Int64, metrics: ServerMetrics, logger: Logger) {
        self.graph = graph
        self.groupLogs = groupLogs
        self.intervalNanoseconds = intervalNanoseconds
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts the thread, with the ingest threads' scheduling (it is ingest's
    /// work and yields to lookups like the rest).
    func start(priority: ThreadScheduling.IngestPriority, nice: Int) {
        ThreadScheduling.startIngestThread("stitch-sync", priority: priority, nice: nice) { [self] in
            while stopRequested.wait(timeout: .now() + .nanoseconds(Int(intervalNanoseconds))) == .timedOut {
                syncNow()
            }
            exited.signal()
        }
    }

    /// Ends the thread, waiting out a checkpoint in progress, then takes
    /// the last one. Called once the caller's last commit is done.
    func stop() {
        stopRequested.signal()
        exited.wait()
        syncNow()
    }

    /// Checkpoints every shard now; a failure is logged and counted, and
    /// the next interval tries again.
    func syncNow() {
        let start = ContinuousClock.now
        do {
            let held = try graph.checkpoint()
            metrics.syncSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
            try groupLogs?.release(through: held)
        } catch {
            logger.error("periodic checkpoint failed: \(error)")
            metrics.counter(.syncFailures).increment()
        }
    }
}
