import Foundation
import Logging
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchStore
import StitchWire

/// `durability = log`: every shard's `GroupLog`, the writer's way through it
/// (`apply`: the part is applied while its record is encoded, written and
/// flushed on the shard's log queue, and committed once the record is on
/// disk), and the recovery that replays it at start.
///
/// A record is the group part exactly as the shard applies it — the cluster
/// log's entry format (`proto/log.proto`), with the writer's clock — so a
/// replay does what the first apply did (DESIGN.md §8's determinism). The
/// shard records the record's sequence in the same transaction, so a record
/// is applied once whatever crashes (`IdentityGraph.apply(segments:first:)`).
final class ShardGroupLogs: Sendable {
    private let logs: [GroupLog]
    /// Each shard's next sequence. A shard's part runs on one thread at a
    /// time (the writer's, or its worker's, one group after another).
    private let nextSequences: [SequenceBox]
    private let metrics: ServerMetrics
    /// Each shard's log appends, run beside the writer's apply.
    private let logQueues: [DispatchQueue]

    /// The log directory of the shard whose store is in `shardDirectory`.
    static func directory(shardDirectory: String) -> String { shardDirectory + "/group-log" }

    /// Replays every shard's log past its store's last applied record, then
    /// keeps the logs for the writer when `durability == .log`; otherwise
    /// makes the replay durable and deletes the logs (a store that was in
    /// `log` mode before this start loses nothing by the switch). Returns
    /// nil when not in `log` mode.
    static func recover(
        graph: ShardedGraph, dataDirectory: String, durability: StoreOptions.Durability, metrics: ServerMetrics,
        logger: Logger
    ) throws -> ShardGroupLogs? {
        var logs: [GroupLog] = []
        var nexts: [SequenceBox] = []
        for (index, shard) in graph.shards.enumerated() {
            let directory = directory(shardDirectory: ShardLayout.directory(of: index, in: dataDirectory))
            try finishRemoval(of: directory, shard: shard)
            guard durability == .log || FileManager.default.fileExists(atPath: directory) else { continue }
            let log = try GroupLog(directory: directory)
            let replayed = try replay(log, into: shard)
            if replayed.records > 0 {
                logger.notice("shard \(index): replayed \(replayed.records) groups (\(replayed.events) events) from the group log after the last commit the store holds")
            }
            let applied = try shard.appliedLogSequence()
            if durability == .log {
                try log.prepareSpare()
                logs.append(log)
                nexts.append(SequenceBox(max(applied, log.lastSequence) + 1))
            } else {
                try shard.makeDurable()
                try FileManager.default.moveItem(atPath: directory, toPath: directory + removingSuffix)
                try finishRemoval(of: directory, shard: shard)
                logger.notice("shard \(index): group log removed (durability is \(durability.rawValue) now)")
            }
        }
        return durability == .log ? ShardGroupLogs(logs: logs, nextSequences: nexts, metrics: metrics) : nil
    }

    /// A log being removed is renamed first: its records are all applied
    /// and durable by then, so a crash at any step leaves either the log
    /// (replayed again from the store's sequence) or the renamed one.
    static let removingSuffix = ".removing"

    /// Ends a removal a crash may have cut short: the shard forgets the
    /// log's sequence — it numbered the group log, and a cluster replica
    /// reads the same key as its place in the cluster's log — and the
    /// renamed log is deleted.
    private static func finishRemoval(of directory: String, shard: IdentityGraph) throws {
        let renamed = directory + removingSuffix
        guard FileManager.default.fileExists(atPath: renamed) else { return }
        try shard.forgetAppliedLogSequence()
        try shard.makeDurable()
        try FileManager.default.removeItem(atPath: renamed)
    }

    /// Cluster mode does not run `recover`, and a replica reads the store's
    /// applied sequence as its place in the cluster's log, where a store
    /// that ran in `log` mode holds its group log's. So a store with a group
    /// log is refused in cluster mode until a start without cluster settings
    /// has replayed the log, forgotten its sequence and removed it.
    static func refuseInCluster(shards: Int, dataDirectory: String) throws {
        for index in 0..<shards {
            let directory = directory(shardDirectory: ShardLayout.directory(of: index, in: dataDirectory))
            for path in [directory, directory + removingSuffix] where FileManager.default.fileExists(atPath: path) {
                throw GroupLogInCluster(directory: path)
            }
        }
    }

    private init(logs: [GroupLog], nextSequences: [SequenceBox], metrics: ServerMetrics) {
        self.logs = logs
        self.nextSequences = nextSequences
        self.metrics = metrics
        logQueues = logs.indices.map { DispatchQueue(label: "stitch-group-log-\($0)") }
    }

    /// Applies the records of `log` after the ones `shard` holds, in
    /// transactions of up to `replayEventsPerCommit` events.
    static func replay(_ log: GroupLog, into shard: IdentityGraph) throws -> (records: Int, events: Int) {
        let applied = try shard.appliedLogSequence()
        var pending: [ApplySegment] = []
        var first: UInt64 = applied + 1
        var pendingEvents = 0
        var total = (records: 0, events: 0)
        func flush() throws {
            guard !pending.isEmpty else { return }
            try shard.apply(segments: pending, first: first)
            first += UInt64(pending.count)
            pending.removeAll(keepingCapacity: true)
            pendingEvents = 0
        }
        try log.forEachRecord(after: applied) { record in
            guard record.sequence == first + UInt64(pending.count) else {
                throw GroupLogGap(directory: log.directory, expected: first + UInt64(pending.count), found: record.sequence)
            }
            let segment = try ApplySegment(logEntry: record.payload)
            pending.append(segment)
            pendingEvents += segment.events.count
            total.records += 1
            total.events += segment.events.count
            if pendingEvents >= replayEventsPerCommit { try flush() }
        }
        try flush()
        return total
    }

    static let replayEventsPerCommit = 50_000

    /// Logs one shard's part of a group and applies it to the shard: the ack
    /// that follows means the part is on disk in the log. The log's work —
    /// encoding the part, writing and flushing it (~2 ms) — runs on the
    /// shard's log queue beside the apply instead of before it; the commit
    /// waits for it, so a part whose record did not reach the disk is never
    /// stored. If the apply or the append fails, the record is taken back, as
    /// the part's batches are refused.
    func apply(
        _ events: [PreparedEvent], renewals: [LeaseRenewal], nowMs: Int64, shard: Int, graph: IdentityGraph
    ) throws -> ApplyReport {
        let (sequence, append) = self.append(events, renewals: renewals, nowMs: nowMs, shard: shard)
        do {
            let reports = try graph.apply(
                segments: [ApplySegment(events: events, renewals: renewals, nowMs: nowMs)], first: sequence,
                beforeCommit: { try append.wait() })
            return reports[0]
        } catch {
            takeBack(append, sequence: sequence, shard: shard)
            throw error
        }
    }

    /// Starts appending one shard's part as its next record, on the shard's
    /// log queue: the record is on disk once the returned append's `wait()`
    /// returns. One part per shard at a time: the next `append` of a shard
    /// comes after this one is waited for (or taken back).
    func append(
        _ events: [PreparedEvent], renewals: [LeaseRenewal], nowMs: Int64, shard: Int
    ) -> (sequence: UInt64, append: PendingLogAppend) {
        let sequence = nextSequences[shard].value
        let append = PendingLogAppend(
            on: logQueues[shard], log: logs[shard], sequence: sequence,
            encode: { GroupLogEntryEncoder.encode(events: events, renewals: renewals, publishedMs: nowMs) },
            took: { [metrics] in metrics.groupLogAppendSeconds.recordNanoseconds($0) })
        nextSequences[shard].value = sequence + 1
        return (sequence, append)
    }

    /// Removes record `sequence` of `shard` again — its append failed, or its
    /// part was not stored — so the shard's next record takes its sequence.
    /// Returns false if the record could not be removed: it stays, so this
    /// shard's next groups are refused (their sequence would skip it) until
    /// a restart replays it; both writes failing means the disk is failing.
    @discardableResult
    func takeBack(_ append: PendingLogAppend, sequence: UInt64, shard: Int) -> Bool {
        // Not while the append may still run: the take-back writes there too.
        try? append.wait()
        do {
            if let bytes = append.payloadBytesWritten {
                try logs[shard].removeLast(sequence: sequence, payloadBytes: bytes)
            }
            nextSequences[shard].value = sequence
            return true
        } catch {
            return false
        }
    }

    /// Deletes each shard's log files that its checkpoint holds entirely,
    /// and lays down the zeros of each shard's next file if it used them.
    func release(through sequences: [UInt64]) throws {
        for (log, sequence) in zip(logs, sequences) {
            log.release(through: sequence)
            try log.prepareSpare()
        }
    }

    /// A shard's next sequence, handed between the writer and a worker
    /// thread by `ShardWorker`'s run/wait (which orders the accesses).
    final class SequenceBox: @unchecked Sendable {
        var value: UInt64
        init(_ value: UInt64) { self.value = value }
    }
}

/// A store that ran in `durability = log`, started as a cluster replica.
struct GroupLogInCluster: Error, CustomStringConvertible {
    let directory: String
    var description: String {
        "\(directory) holds a group log from a run with durability = log, which cluster mode does not replay: start this data directory once without cluster settings, with durability sync or nosync (that replays the log, then removes it), then in cluster mode"
    }
}

/// A group log that skips a record after the store's last one: the store
/// and its log disagree, and replaying past the gap would lose the missing
/// groups silently.
struct GroupLogGap: Error, CustomStringConvertible {
    let directory: String
    let expected: UInt64
    let found: UInt64
    var description: String {
        "group log \(directory) holds record \(found) where the store needs \(expected) next; move the log aside to start without it (the groups from \(expected) on are then lost)"
    }
}
