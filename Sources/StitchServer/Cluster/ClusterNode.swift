import Foundation
import Logging
import StitchGraph
import StitchLog
import StitchMapping
import StitchStore
import StitchWire
import Synchronization

/// What cluster mode adds to a node (docs/cluster.md): the connection to
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
    /// Answers to the admin changes this node put in the log.
    let adminResults: AdminResults
    /// Who else is in the cluster; nil until this node's ports are bound.
    private let membershipBox = Mutex<ClusterMembership?>(nil)
    var membership: ClusterMembership? { membershipBox.withLock { $0 } }
    /// This node's name.
    var name: String { node }
    private let replicas: Int
    private let logger: Logger
    private let node: String
    private let publishWaitMs: Int
    private let layout: ShardLayout
    private let clockMs: @Sendable () -> Int64

    /// `nosync` mode's periodic checkpoint of the replica's shards (nil in
    /// `sync` mode): without it the checkpoint taken at open would keep its
    /// pages from reuse for good, and the store would only grow.
    private let syncer: StoreSyncer?

    private init(
        log: JetStreamLog, positions: LogPositions, appliers: [LogApplier], partitions: [Int], adminResults: AdminResults,
        layout: ShardLayout, syncer: StoreSyncer?, configuration: ServerConfiguration, logger: Logger,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.syncer = syncer
        self.readWaitMs = configuration.clusterReadWaitMs
        self.replicas = configuration.clusterReplicas
        self.logger = logger
        self.publishWaitMs = configuration.clusterPublishWaitMs
        self.node = configuration.clusterNode
        self.adminResults = adminResults
        self.layout = layout
        self.clockMs = clockMs
        self.log = log
        self.positions = positions
        self.appliers = appliers
        self.partitions = partitions
    }

    /// Connects, makes sure the streams exist, and starts applying.
    static func start(
        graph: ShardedGraph, poolOverrides: PoolOverrides, audit: AuditLog, metrics: ServerMetrics, configuration: ServerConfiguration,
        logger: Logger, clockMs: @escaping @Sendable () -> Int64
    ) throws -> ClusterNode {
        let count = graph.layout.count
        let partitions = configuration.clusterPartitions.isEmpty ? Array(0..<count) : configuration.clusterPartitions
        logger.info("cluster mode: node \(configuration.clusterNode), \(count) partitions, holding \(partitions.map(String.init).joined(separator: ",")); JetStream at \(configuration.clusterNATSURLs) (\(configuration.clusterNATSSecurity.summary)), streams kept on \(configuration.clusterReplicas) servers")
        let log = try ClusterStreams.connect(configuration, partitions: count) { log in
            try writeGenesis(log, partitions: count, node: configuration.clusterNode, clockMs: clockMs, logger: logger)
        }
        let positions = LogPositions(partitions: count, held: partitions)
        metrics.declareCluster(partitions: partitions)
        let adminResults = AdminResults()
        let appliers = partitions.map { partition in
            LogApplier(
                partition: partition, graph: graph, log: log, positions: positions, poolOverrides: poolOverrides, audit: audit,
                adminResults: adminResults, metrics: metrics, configuration: configuration, logger: logger, clockMs: clockMs)
        }
        for applier in appliers { applier.start() }
        let syncer = StoreSyncer.forDurability(
            of: configuration, graph: graph, groupLogs: nil, metrics: metrics, logger: logger)
        syncer?.start(priority: configuration.ingestPriority, nice: configuration.ingestNice)
        return ClusterNode(
            log: log, positions: positions, appliers: appliers, partitions: partitions, adminResults: adminResults,
            layout: graph.layout, syncer: syncer, configuration: configuration, logger: logger, clockMs: clockMs)
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

    /// An admin change, through the log: published to its site's
    /// partition, applied by every replica at that point, answered with what
    /// this node's replica did. Needs this node to hold the partition.
    func perform(_ change: AdminChange) throws(QueryFailure) -> Stitch_V1_Response.OneOf_Kind {
        let partition = layout.shard(of: change.site)
        guard positions.holds(partition) else {
            throw QueryFailure(.unavailable, "site \(change.site) is in partition \(partition), which this node does not hold; ask a node that does")
        }
        let entry = Stitch_V1_LogEntry.with {
            $0.format = LogEntryFormat.current
            $0.origin = node
            $0.publishedMs = clockMs()
            $0.admin = change.logAdmin
        }
        let ack: JetStreamLog.Ack
        do {
            ack = try log.publish(
                subject: ClusterStreams.subject(partition), data: try entry.serializedBytes(),
                messageID: "\(node)-admin-\(UInt64.random(in: 1...UInt64.max))")
        } catch {
            throw QueryFailure(.unavailable, "the cluster log did not take the change (\(error)); nothing changed, retry")
        }
        guard positions.wait(partition, through: ack.sequence, waitMs: publishWaitMs),
            let answer = adminResults.take(partition: partition, sequence: ack.sequence)
        else {
            throw QueryFailure(
                .unavailable,
                "the change is in the log (partition \(partition), sequence \(ack.sequence)) and every replica applies it, but this node has not yet; ask again with min_position to see it")
        }
        return try answer.get()
    }

    /// Whether this node runs the retention pass over `partition`: it holds
    /// it and grants its leases (its first live holder by name), so one node
    /// puts each erasure in the log, not every replica.
    func sweepsRetention(of partition: Int) -> Bool {
        positions.holds(partition) && membership?.leaseNode(of: partition)?.node == node
    }

    /// Tells the other nodes where this one is, once its ports are bound,
    /// and starts keeping the list of members.
    func join(host: String, ports: StitchServer.BoundPorts, settings: String, metrics: ServerMetrics) throws {
        let me = ClusterMember(
            node: node, host: host, ingest: ports.ingest, query: ports.query, http: ports.http, intake: ports.intake,
            partitions: partitions, settings: settings)
        let membership = try ClusterMembership(log: log, me: me, replicas: replicas, metrics: metrics, logger: logger)
        membership.start()
        membershipBox.withLock { $0 = membership }
    }

    /// Stops the membership refresh and every applier (after its
    /// transaction under way), then takes the last checkpoint.
    func stop() {
        membership?.stop()
        for applier in appliers { applier.stop() }
        syncer?.stop()
    }
}
