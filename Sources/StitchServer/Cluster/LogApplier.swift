import Foundation
import Logging
import StitchGraph
import StitchLog
import StitchMapping
import StitchWire
import Synchronization

/// A store failure while applying; the applier tries again.
struct LogApplyFailure: Error, CustomStringConvertible {
    let description: String
}

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
    private let node: String
    private let poolOverrides: PoolOverrides
    private let audit: AuditLog
    private let adminResults: AdminResults
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(
        partition: Int, graph: ShardedGraph, log: JetStreamLog, positions: LogPositions, poolOverrides: PoolOverrides, audit: AuditLog,
        adminResults: AdminResults, metrics: ServerMetrics, configuration: ServerConfiguration, logger: Logger,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.partition = partition
        self.node = configuration.clusterNode
        self.poolOverrides = poolOverrides
        self.audit = audit
        self.adminResults = adminResults
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
            ThreadScheduling.nameCurrentThread("stitch-apply-p\(partition)")
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
        /// Fetched, not applied yet (an admin entry is applied alone).
        var pending: ArraySlice<(sequence: UInt64, data: [UInt8])> = []
        var last: UInt64 = 0
        var lastStateCheck: Int64 = 0
        /// Empty fetches in a row while the stream holds entries past `applied`.
        var idleBehind = 0
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
                if pending.isEmpty { pending = try reader!.fetch(max: entriesMax, waitMs: 250)[...] }
                let messages = pending
                let now = IngestQueue.monotonicNanoseconds()
                if messages.isEmpty || now - lastStateCheck > 1_000_000_000 {
                    // The lag gauge: the stream's end, read at most once a second.
                    if let state = try? log.state(of: stream) { last = state.last }
                    lastStateCheck = now
                    metrics.logApplied(partition: partition, applied: applied, last: last, stopped: false)
                }
                guard !messages.isEmpty else {
                    // Nothing came although the stream holds more: the
                    // reader's consumer went with a NATS server that died
                    // (an ephemeral consumer lives on one). Make a new one.
                    if last > applied {
                        idleBehind += 1
                        if idleBehind >= 2 {
                            logger.notice("partition \(partition): the stream is at \(last) but the reader gives nothing after \(applied); reading again")
                            reader = nil
                            idleBehind = 0
                        }
                    }
                    continue
                }
                idleBehind = 0
                guard messages.first!.sequence == applied + 1 else {
                    // Not a fault by itself: a reader made again may start
                    // late if entries were removed; `state` judges that.
                    logger.warning("partition \(partition): the stream gave sequence \(messages.first!.sequence) after \(applied); reading again")
                    reader = nil
                    pending = []
                    continue
                }
                // Consecutive entries of events go in one transaction; an
                // admin change is applied alone, in order.
                var segments: [ApplySegment] = []
                var admin: (sequence: UInt64, entry: Stitch_V1_LogEntry)?
                var unreadable: (sequence: UInt64, error: LogEntryError)?
                for (offset, message) in zip(0..., messages) {
                    guard message.sequence == applied + 1 + UInt64(offset) else { break }
                    do {
                        let entry = try Stitch_V1_LogEntry(logEntry: message.data)
                        if entry.hasAdmin {
                            if segments.isEmpty { admin = (message.sequence, entry) }
                            break
                        }
                        segments.append(try ApplySegment(entry))
                    } catch {
                        unreadable = (message.sequence, error)
                        break
                    }
                }
                if !segments.isEmpty {
                    try applySegments(segments, first: applied + 1)
                    applied += UInt64(segments.count)
                    pending.removeFirst(segments.count)
                } else if let admin {
                    try applyAdmin(admin.entry, sequence: admin.sequence)
                    applied = admin.sequence
                    pending.removeFirst()
                } else if let unreadable {
                    refuse("entry \(unreadable.sequence) of \(stream) cannot be applied: \(unreadable.error)", applied: applied, last: last)
                    return
                }
                positions.advance(partition, to: applied)
                last = max(last, applied)
                metrics.logApplied(partition: partition, applied: applied, last: last, stopped: false)
            } catch let error as LogSequenceError {
                refuse("\(error)", applied: applied, last: last)
                return
            } catch let error as LogEntryRefusal {
                refuse("an entry of \(stream) after \(applied) cannot be applied: \(error)", applied: applied, last: last)
                return
            } catch {
                logger.warning("partition \(partition): reading or applying \(stream) failed (\(error)); trying again from sequence \(applied + 1)")
                reader = nil
                pending = []
                if let stored = try? shard.appliedLogSequence() { applied = stored }
                usleep(250_000)
            }
        }
        logger.info("partition \(partition): apply stopped at sequence \(applied)")
    }

    /// Applies consecutive entries of events in one transaction.
    private func applySegments(_ segments: [ApplySegment], first: UInt64) throws {
        let start = ContinuousClock.now
        let reports = try shard.apply(segments: segments, first: first)
        metrics.commitSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        let nowMs = clockMs()
        for (segment, report) in zip(segments, reports) {
            GraphWriter.record(report, beacons: segment.events.count, graph: graph, metrics: metrics, logger: logger)
            metrics.logApplyLagSeconds.recordNanoseconds(max(0, nowMs - segment.nowMs) * 1_000_000)
        }
        metrics.counter(.logEntriesApplied).increment(by: segments.count)
        metrics.groupCommits.increment()
    }

    /// Applies an admin change with the entry's clock, then records its
    /// sequence. A crash between the two applies it again on restart,
    /// which changes nothing (`AdminChange` is idempotent). The answer goes
    /// to the query that asked when this node published it.
    private func applyAdmin(_ entry: Stitch_V1_LogEntry, sequence: UInt64) throws {
        let answer: AdminResults.Answer
        do {
            let change = try AdminChange(entry.admin)
            answer = .success(try change.apply(graph: graph, poolOverrides: poolOverrides, metrics: metrics, audit: audit, nowMs: entry.publishedMs))
            logger.notice("partition \(partition): applied \(change.kindName) of site \(change.site) by \(change.tokenName) from \(entry.origin) (entry \(sequence))")
        } catch let failure as QueryFailure where failure.code == .internal {
            throw LogApplyFailure(description: failure.message)  // the store failed: try again
        } catch let failure as QueryFailure {
            answer = .failure(failure)  // the same refusal on every replica
        } catch {
            answer = .failure(QueryFailure(.invalidArgument, "\(error)"))
        }
        try shard.apply(segments: [ApplySegment(events: [], nowMs: entry.publishedMs)], first: sequence)
        metrics.counter(.logEntriesApplied).increment()
        if entry.origin == node { adminResults.put(partition: partition, sequence: sequence, answer) }
    }

    private func refuse(_ reason: String, applied: UInt64, last: UInt64) {
        logger.critical("partition \(partition): \(reason)")
        metrics.logApplied(partition: partition, applied: applied, last: last, stopped: true)
    }
}
