import Foundation
import Logging
import NIOConcurrencyHelpers
import StitchGraph
import StitchLog
import StitchMapping
import StitchWire

/// A cluster node's consumer of the ingest queue, in place of the writer:
/// it takes the same groups of prepared batches, splits each group by
/// partition into log entries, publishes them all at once and waits for
/// JetStream's acks (a quorum of the stream's replicas has them), and only
/// then answers every batch — with where its beacons sit in the log, or
/// STORE_UNAVAILABLE when a partition's publish failed, so the sender
/// resends (event ids make a resent beacon a repeat, never a copy).
///
/// Like the writer's group commit, a group grows while the previous one
/// waits for its acks, so the round trip is shared by more batches under
/// load. Applying is the appliers' job, on every node holding a partition.
final class LogPublisher: IngestConsumer {
    /// An entry's protobuf size at most; NATS refuses messages over its
    /// max_payload (1 MiB by default), so larger parts are split.
    static let entryBytesMax = 768 << 10

    private let log: JetStreamLog
    private let layout: ShardLayout
    private let queue: IngestQueue
    private let metrics: ServerMetrics
    private let logger: Logger
    private let clockMs: @Sendable () -> Int64
    private let node: String
    /// Different for every start: message ids never repeat across restarts.
    private let bootID = UInt64.random(in: 1...UInt64.max)
    private let groupBeaconsMax: Int
    private let flushIntervalNanoseconds: Int64
    private let publishWaitMs: Int64
    private let finished = FinishedSignal()

    init(
        log: JetStreamLog, layout: ShardLayout, queue: IngestQueue, metrics: ServerMetrics,
        configuration: ServerConfiguration, logger: Logger, clockMs: @escaping @Sendable () -> Int64
    ) {
        self.log = log
        self.layout = layout
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
        self.clockMs = clockMs
        node = configuration.clusterNode
        groupBeaconsMax = configuration.groupBeaconsMax
        flushIntervalNanoseconds = Int64(configuration.flushIntervalMs) * 1_000_000
        publishWaitMs = Int64(configuration.clusterPublishWaitMs)
    }

    func start() {
        let thread = Thread { [self] in
            ThreadScheduling.nameCurrentThread("stitch-publisher")
            run()
        }
        thread.name = "stitch-publisher"
        thread.start()
    }

    func waitUntilFinished() async {
        await finished.wait()
    }

    private func run() {
        var counter: UInt64 = 0
        queue.consumeGroups(beaconsMax: groupBeaconsMax, waitNanoseconds: flushIntervalNanoseconds, metrics: metrics) {
            publish($0, counter: &counter)
        }
        logger.info("publisher stopped: queue drained, last group acked by the log")
        finished.finish()
    }

    /// One log entry to publish, and the group's items with beacons in it.
    private struct Part {
        var partition: Int
        var entry = Stitch_V1_LogEntry()
        var items: Set<Int> = []
        var bytes = 0
    }

    /// Publishes one group and returns each batch's outcome.
    private func publish(_ group: [IngestItem], counter: inout UInt64) -> [BatchOutcome] {
        let publishedMs = clockMs()
        // Each partition's open entry, mutated in place (a copy taken out
        // of a container and put back would copy the events on every append).
        var open = [Part?](repeating: nil, count: layout.count)
        var parts: [Part] = []
        func fresh(_ partition: Int) -> Part {
            Part(partition: partition, entry: .with {
                $0.format = LogEntryFormat.current
                $0.origin = node
                $0.publishedMs = publishedMs
            })
        }
        /// The partition's open entry, closed first when `size` more bytes would pass the bound.
        func room(_ partition: Int, _ size: Int) {
            if open[partition] == nil { open[partition] = fresh(partition) }
            let entry = open[partition]!.entry
            if open[partition]!.bytes + size > Self.entryBytesMax, !entry.events.isEmpty || !entry.renewals.isEmpty {
                parts.append(open[partition]!)
                open[partition] = fresh(partition)
            }
        }
        for (index, item) in group.enumerated() {
            for event in item.events {
                let partition = layout.shard(of: event.site)
                let logEvent = Stitch_V1_LogEvent(event)
                let size = logEvent.body.count + 64 + logEvent.identifiers.reduce(0) { $0 + $1.value.utf8.count + 4 }
                room(partition, size)
                open[partition]!.entry.events.append(logEvent)
                open[partition]!.bytes += size
                open[partition]!.items.insert(index)
            }
            for renewal in item.renewals {
                let partition = layout.shard(of: renewal.site)
                let size = renewal.session.utf8.count + 32
                room(partition, size)
                open[partition]!.entry.renewals.append(Stitch_V1_LogRenewal(renewal))
                open[partition]!.bytes += size
                open[partition]!.items.insert(index)
            }
        }
        parts += open.compactMap { $0 }
        guard !parts.isEmpty else { return group.map { .committed(sequence: $0.sequence, ack: $0.ack) } }
        var messages: [JetStreamLog.Message] = []
        var unencodable: [Int: JetStreamLog.Failure] = [:]
        messages.reserveCapacity(parts.count)
        for (index, part) in parts.enumerated() {
            counter += 1
            do {
                messages.append(.init(
                    subject: ClusterStreams.subject(part.partition), data: try part.entry.serializedBytes(),
                    id: "\(node)-\(String(bootID, radix: 36))-\(counter)"))
            } catch {
                // Never published empty: an entry replicas cannot read stops them.
                unencodable[index] = .init(description: "the entry could not be encoded: \(error)")
            }
        }
        let start = ContinuousClock.now
        var published = log.publishAll(messages, waitMs: publishWaitMs)[...]
        let results: [Result<JetStreamLog.Ack, JetStreamLog.Failure>] = parts.indices.map { index in
            unencodable[index].map { .failure($0) } ?? published.removeFirst()
        }
        metrics.logPublishSeconds.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        var positions = [[Stitch_V1_LogPosition]](repeating: [], count: group.count)
        var failed = [String?](repeating: nil, count: group.count)
        for (part, result) in zip(parts, results) {
            switch result {
            case .success(let ack):
                metrics.counter(.logPublishes, [("outcome", ack.duplicate ? "duplicate" : "stored")]).increment()
                for index in part.items {
                    positions[index].append(.with {
                        $0.partition = UInt32(part.partition)
                        $0.sequence = ack.sequence
                    })
                }
            case .failure(let failure):
                metrics.counter(.logPublishes, [("outcome", "failed")]).increment()
                for index in part.items { failed[index] = failure.description }
            }
        }
        var refused = 0
        let outcomes: [BatchOutcome] = group.enumerated().map { index, item in
            if let reason = failed[index] {
                refused += 1
                return .refused(sequence: item.sequence, error: .with {
                    $0.code = .storeUnavailable
                    $0.message = "the cluster log did not take this batch (\(reason)); resend it (what did reach the log comes back as repeats: event ids)"
                })
            }
            var ack = item.ack
            // One position per partition: the last entry of each.
            var last: [UInt32: UInt64] = [:]
            for position in positions[index] { last[position.partition] = max(last[position.partition] ?? 0, position.sequence) }
            ack.logPositions = last.keys.sorted().map { partition in
                .with {
                    $0.partition = partition
                    $0.sequence = last[partition]!
                }
            }
            return .committed(sequence: item.sequence, ack: ack)
        }
        if refused > 0 {
            logger.error("the cluster log refused a publish: \(refused) batches answered STORE_UNAVAILABLE (\(failed.compactMap { $0 }.first ?? ""))")
        }
        return outcomes
    }
}
