import Foundation
import Logging
import StitchGraph
import StitchLog
import StitchMapping
import Synchronization

/// Applies one partition's log to this node's shard of it, on a thread of
/// its own: reads the stream in order from the entry after the one the
/// shard recorded, and applies up to `cluster_apply_entries_max` entries per
/// LMDB transaction with the last one's sequence recorded in it
/// (`IdentityGraph.apply(segments:first:)`), so every entry is applied
/// exactly once across crashes and restarts.
///
/// It refuses, loudly and for good (until an operator acts), to go on when
/// the store and the stream disagree:
/// - the shard has applied past the stream's end (JetStream lost acked
///   entries, or this store belongs to another cluster);
/// - the stream no longer holds the next entry (retention removed it: this
///   replica was away longer than `cluster_stream_max_age_hours`);
/// - an entry cannot be read (written by a newer Stitch).
/// Skipping any of them would leave this replica different from its peers
/// for ever. `stitch_log_apply_stopped{partition}` says so, and the log says
/// what to do. Reading errors (a NATS server going away) are not that: the
/// reader is made again from the next entry until it works.
final class LogApplier: @unchecked Sendable {
    let partition: Int
    private let graph: ShardedGraph
    private let log: JetStreamLog
    private let positions: LogPositions
    private let metrics: ServerMetrics
    private let logger: Logger
    private let entriesMax: Int
    private let clockMs: @Sendable () -> Int64
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(
        partition: Int, graph: ShardedGraph, log: JetStreamLog, positions: LogPositions, metrics: ServerMetrics,
        configuration: ServerConfiguration, logger: Logger, clockMs: @escaping @Sendable () -> Int64
    ) {
        self.partition = partition
        self.graph = graph
        self.log = log
        self.positions = positions
        self.metrics = metrics
        self.logger = logger
        self.entriesMax = configuration.clusterApplyEntriesMax
        self.clockMs = clockMs
    }

    func start() {
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "stitch-apply-p\(partition)"
        thread.start()
    }

    /// Stops after the transaction under way (a fetch waits at most 250 ms).
    func stop() {
        stopping.store(true, ordering: .relaxed)
        done.wait()
    }

    private var shard: IdentityGraph { graph.shards[partition] }
    private var stream: String { ClusterStreams.stream(partition) }

    private func run() {
        var applied: UInt64
        do {
            applied = try shard.appliedLogSequence()
        } catch {
            refuse("cannot read the shard's applied sequence: \(error)", applied: 0, last: 0)
            return
        }
        positions.advance(partition, to: applied)
        var reader: LogReader?
        var last: UInt64 = 0
        var lastStateCheck: Int64 = 0
        while !stopping.load(ordering: .relaxed) {
            do {
                if reader == nil {
                    let state = try log.state(of: stream)
                    last = state.last
                    if applied > state.last {
                        refuse(
                            "this store has applied partition \(partition) through sequence \(applied), but the stream \(stream) ends at \(state.last): the log lost acknowledged entries, or this store belongs to another cluster. Refusing to go on; restore this node from a peer's backup (README \"Cluster\")",
                            applied: applied, last: state.last)
                        return
                    }
                    if state.last > applied, applied + 1 < state.first {
                        refuse(
                            "the stream \(stream) starts at sequence \(state.first) (older entries aged out), but this store needs \(applied + 1): it was away longer than the stream keeps entries. Restore it from a peer's backup (README \"Cluster\")",
                            applied: applied, last: state.last)
                        return
                    }
                    reader = try log.reader(stream: stream, subject: ClusterStreams.subject(partition), from: applied + 1)
                    logger.info("partition \(partition): applying \(stream) from sequence \(applied + 1) (stream ends at \(state.last))")
                }
                let messages = try reader!.fetch(max: entriesMax, waitMs: 250)
                let now = IngestQueue.monotonicNanoseconds()
                if messages.isEmpty || now - lastStateCheck > 1_000_000_000 {
                    // The lag gauge: the stream's end, read at most once a second.
                    if let state = try? log.state(of: stream) { last = state.last }
                    lastStateCheck = now
                    metrics.logApplied(partition: partition, applied: applied, last: last, stopped: false)
                }
                guard !messages.isEmpty else { continue }
                guard messages[0].sequence == applied + 1 else {
                    // Not a fault by itself: a reader made again may start
                    // late if entries were removed; `state` judges that.
                    logger.warning("partition \(partition): the stream gave sequence \(messages[0].sequence) after \(applied); reading again")
                    reader = nil
                    continue
                }
                var segments: [ApplySegment] = []
                segments.reserveCapacity(messages.count)
                for (offset, message) in messages.enumerated() {
                    guard message.sequence == applied + 1 + UInt64(offset) else { break }
                    do {
                        segments.append(try ApplySegment(logEntry: message.data))
                    } catch {
                        if segments.isEmpty {
                            refuse("entry \(message.sequence) of \(stream) cannot be applied: \(error)", applied: applied, last: last)
                            return
                        }
                        break  // apply what came before it; the next round refuses it
                    }
                }
                let start = ContinuousClock.now
                let reports = try shard.apply(segments: segments, first: applied + 1)
                metrics.commitSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
                applied += UInt64(segments.count)
                positions.advance(partition, to: applied)
                let nowMs = clockMs()
                for (segment, report) in zip(segments, reports) {
                    GraphWriter.record(report, beacons: segment.events.count, graph: graph, metrics: metrics, logger: logger)
                    metrics.logApplyLagSeconds.recordNanoseconds(max(0, nowMs - segment.nowMs) * 1_000_000)
                }
                metrics.counter(.logEntriesApplied).increment(by: segments.count)
                metrics.groupCommits.increment()
                last = max(last, applied)
                metrics.logApplied(partition: partition, applied: applied, last: last, stopped: false)
            } catch let error as LogSequenceError {
                refuse("\(error)", applied: applied, last: last)
                return
            } catch {
                logger.warning("partition \(partition): reading or applying \(stream) failed (\(error)); trying again from sequence \(applied + 1)")
                reader = nil
                if let stored = try? shard.appliedLogSequence() { applied = stored }
                usleep(250_000)
            }
        }
        logger.info("partition \(partition): apply stopped at sequence \(applied)")
    }

    private func refuse(_ reason: String, applied: UInt64, last: UInt64) {
        logger.critical("partition \(partition): \(reason)")
        metrics.logApplied(partition: partition, applied: applied, last: last, stopped: true)
    }
}
