import Foundation
import Logging
import StitchMapping
import StitchWire
import StitchGraph
import StitchLog

/// What cluster mode adds to a node (README "Cluster"): the connection to
/// JetStream, how far each held partition is applied, and an applier per
/// held partition. The collectors publish through `LogPublisher`.
final class ClusterNode: Sendable {
    let log: JetStreamLog
    let positions: LogPositions
    let appliers: [LogApplier]
    /// Partitions this node holds and applies.
    let partitions: [Int]
    /// `cluster_read_wait_ms`: a query's wait for a log position.
    let readWaitMs: Int

    private init(log: JetStreamLog, positions: LogPositions, appliers: [LogApplier], partitions: [Int], readWaitMs: Int) {
        self.readWaitMs = readWaitMs
        self.log = log
        self.positions = positions
        self.appliers = appliers
        self.partitions = partitions
    }

    /// Connects, makes sure the streams exist, and starts applying.
    static func start(
        graph: ShardedGraph, metrics: ServerMetrics, configuration: ServerConfiguration, logger: Logger,
        clockMs: @escaping @Sendable () -> Int64
    ) throws -> ClusterNode {
        let count = graph.layout.count
        let partitions = configuration.clusterPartitions.isEmpty ? Array(0..<count) : configuration.clusterPartitions
        logger.info("cluster mode: node \(configuration.clusterNode), \(count) partitions, holding \(partitions.map(String.init).joined(separator: ",")); JetStream at \(configuration.clusterNATSURLs), streams kept on \(configuration.clusterReplicas) servers")
        let log = try ClusterStreams.connect(configuration, partitions: count)
        try writeGenesis(log, partitions: count, node: configuration.clusterNode, clockMs: clockMs, logger: logger)
        let positions = LogPositions(partitions: count, held: partitions)
        metrics.declareCluster(partitions: partitions)
        let appliers = partitions.map { partition in
            LogApplier(
                partition: partition, graph: graph, log: log, positions: positions, metrics: metrics,
                configuration: configuration, logger: logger, clockMs: clockMs)
        }
        for applier in appliers { applier.start() }
        return ClusterNode(log: log, positions: positions, appliers: appliers, partitions: partitions, readWaitMs: configuration.clusterReadWaitMs)
    }

    /// Makes sure every partition's stream begins with its genesis entry
    /// (the erasure secret all replicas share). Nodes starting together each
    /// publish one with the same message id; JetStream keeps the first.
    private static func writeGenesis(
        _ log: JetStreamLog, partitions: Int, node: String, clockMs: @Sendable () -> Int64, logger: Logger
    ) throws {
        for partition in 0..<partitions where try log.state(of: ClusterStreams.stream(partition)).last == 0 {
            let entry = Stitch_V1_LogEntry.with {
                $0.format = LogEntryFormat.current
                $0.origin = node
                $0.publishedMs = clockMs()
                $0.identifierSecret = Data(IdentityGraph.newIdentifierSecret())
            }
            let ack = try log.publish(
                subject: ClusterStreams.subject(partition), data: try entry.serializedBytes(), messageID: "genesis-p\(partition)")
            if ack.sequence != 1 {
                logger.warning("partition \(partition): the genesis entry landed at sequence \(ack.sequence), not 1; replicas will refuse this stream (was it purged?)")
            }
        }
    }

    /// Stops every applier after its transaction under way.
    func stop() {
        for applier in appliers { applier.stop() }
    }
}
