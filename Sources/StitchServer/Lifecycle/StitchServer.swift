import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchStore
import StitchWire
import Synchronization

/// The Stitch service (DESIGN.md §6–§7): beacon collector on UDP and TCP, the
/// single writer with group commit, the query server and the metrics port.
///
/// Run it as a `Service` in a `ServiceGroup` (SIGTERM then triggers
/// `shutdown()`), or call `start()` and `shutdown()` yourself as the tests do.
public final class StitchServer: Service, Sendable {
    /// Ports actually bound (the OS chooses where the configuration says 0).
    public struct BoundPorts: Sendable, Equatable, Codable {
        /// Beacon ingest: TCP and UDP.
        public var ingest: Int
        public var query: Int
        public var http: Int
        /// The public HTTP intake.
        public var intake: Int
    }

    public let configuration: ServerConfiguration
    public let metrics = ServerMetrics()
    let logger: Logger
    let clockMs: @Sendable () -> Int64
    let budgetClockNanoseconds: @Sendable () -> Int64
    private let state = NIOLockedValueBox<State>(.idle)
    let healthy = Atomic<Bool>(false)

    private enum State {
        case idle
        case running(Running)
        case stopped
    }

    /// Every shard's `checkpointCount` summed while running, else nil: tells
    /// a test whether a change was made durable before it was answered.
    var storeCheckpointCount: Int? {
        state.withLockedValue { state in
            guard case .running(let running) = state else { return nil }
            return running.graph.shards.reduce(0) { $0 + $1.checkpointCount }
        }
    }

    /// Everything a running server owns, released by `shutdown()`.
    struct Running {
        /// Event loops of the collector (TCP connections and UDP sockets).
        var group: MultiThreadedEventLoopGroup
        /// Event loops of the query server and the HTTP port, apart from the
        /// collector's so that a burst of batches never delays a lookup.
        var queryGroup: MultiThreadedEventLoopGroup
        /// Threads for heavy queries, apart from the query event loop.
        var heavyQueryPool: NIOThreadPool
        /// The store: one identity graph per shard.
        var graph: ShardedGraph
        /// Pools set through `pool_set`, kept in the data directory.
        var poolOverrides: PoolOverrides
        /// Admin actions, durably (`audit/` in the data directory).
        var audit: AuditLog
        var queue: IngestQueue
        /// The writer; in cluster mode the log publisher.
        var writer: any IngestConsumer
        /// Cluster mode: the log, how far this node applied it, the appliers.
        var cluster: ClusterNode?
        /// Cluster mode: queries for partitions held elsewhere go there.
        var forwarder: QueryForwarder?
        /// Answers queries of both transports (binary protocol, JSON API).
        var queryService: QueryService
        var listeners: [any Channel]
        var udpSockets: [any Channel]
        var ingestConnections: ConnectionRegistry<IngestConnection>
        var queryConnections: ConnectionRegistry<any Channel>
        var ports: BoundPorts
        var housekeeping: RepeatedTask?
        /// Erases inactive persons when `retention_days` is set.
        var retention: RetentionPass?
        var intake: HTTPIntake?
        /// The internal HTTP port: metrics, health, the JSON API, the explorer.
        var internalHTTP: InternalHTTP?
        /// TLS on the framed TCP ports, when configured.
        var tls: TLSServerContexts?
        /// Per-site ingest budgets, shared by every transport.
        var quotas: SiteQuotas?
        /// Reloads `tls` on SIGHUP.
        var tlsReload: SignalWatch?
    }

    /// - Parameters:
    ///   - clockMs: wall-clock milliseconds stamped on accepted events
    ///     (`received_ms`); injected so tests can fix time.
    ///   - budgetClockNanoseconds: the monotonic clock rate budgets refill by
    ///     (`site_beacons_per_second`, `token_requests_per_second`); nil is
    ///     CLOCK_MONOTONIC. Injected so tests on a loaded machine decide
    ///     when a budget refills.
    public init(
        configuration: ServerConfiguration,
        logger: Logger = Logger(label: "stitch"),
        clockMs: @escaping @Sendable () -> Int64 = IdentityGraph.wallClockMs,
        budgetClockNanoseconds: (@Sendable () -> Int64)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.clockMs = clockMs
        self.budgetClockNanoseconds = budgetClockNanoseconds ?? IngestQueue.monotonicNanoseconds
    }


    // MARK: Service

    /// Starts (unless started), runs until a graceful shutdown is requested
    /// (SIGTERM through the service group), then shuts down cleanly.
    public func run() async throws {
        let idle = state.withLockedValue { if case .idle = $0 { true } else { false } }
        if idle { _ = try await start() }
        try? await gracefulShutdown()
        await shutdown()
    }

    // MARK: Start

    /// The configured pools, with those set through `pool_set` (kept in the
    /// data directory) in place of the configuration's for their sites.
    private func pools(overriddenBy overrides: PoolOverrides) throws -> [UInt32: NumberPool] {
        var pools = configuration.numberPools
        for (site, wire) in overrides.pools.sorted(by: { $0.key < $1.key }) {
            pools[site] = wire == Stitch_V1_NumberPool() ? nil : try NumberPool(wire)
            logger.notice("site \(site): number pool from \(overrides.path) (set by pool_set) replaces number_pools")
        }
        return pools
    }

    /// Junk phones declared after they were linked (junk_phones, pools'
    /// office numbers) are quarantined and their persons repaired before
    /// ingest starts; already quarantined ones cost one read each.
    func quarantineDeclaredJunk(_ graph: ShardedGraph, sites: [UInt32]) throws {
        for site in Set(sites).sorted() {
            let phones = graph.junkRules(site: site).phones.sorted().map { NormalizedIdentifier(uncheckedKind: .phone, value: $0) }
            let done = try graph.graph(site: site).quarantineJunk(site: site, identifiers: phones, nowMs: clockMs())
            if !done.isEmpty {
                metrics.countRepairs(done, source: "junk")
                logger.notice("site \(site): \(done.count) declared junk phones were linked; quarantined, their persons repaired")
            }
        }
    }

    /// Opens the store, starts the writer and binds every port.
    @discardableResult
    public func start() async throws -> BoundPorts {
        try configuration.validate()
        // Before the store opens: a TLS file that cannot be used stops the start.
        let tls = try configuration.tlsFiles.map { files throws(TLSSetupError) in try TLSServerContexts(files: files) }
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let poolOverrides = try PoolOverrides(dataDirectory: configuration.dataDirectory)
        let audit = try AuditLog(dataDirectory: configuration.dataDirectory)
        do {
            let written = try audit.recordConfiguration(retentionDays: configuration.retentionDays, tokens: configuration.tokens, nowMs: clockMs())
            if written > 0 { logger.notice("audit: \(written) retention or token changes since the last start recorded (stitch query audit)") }
        } catch {
            audit.close()
            throw error
        }
        let layout = try ShardLayout.resolve(
            dataDirectory: configuration.dataDirectory, requested: configuration.requestedShardLayout)
        let graph: ShardedGraph
        do {
            graph = try ShardedGraph(
                dataDirectory: configuration.dataDirectory, layout: layout,
                configuration: try configuration.graphConfiguration(),
                callTracking: CallTracking(
                    pools: try pools(overriddenBy: poolOverrides),
                    renewalMaxMs: Int64(configuration.leaseRenewalMaxSeconds) * 1000),
                storeOptions: StoreOptions(
                    mapBytes: configuration.mapBytes, durability: configuration.durability,
                    bootIdentifierPath: configuration.bootIdentifierFile))
        } catch {
            audit.close()
            throw error
        }
        for (index, shard) in graph.shards.enumerated() {
            guard let restored = shard.restoredCheckpoint else { continue }
            let after = configuration.isCluster
                ? "the cluster log replays what followed"
                : "a group log replays what followed; without one (nosync) the commits after it are lost"
            logger.warning("shard \(index): the machine restarted since this store's last checkpoint; restored it (transaction \(restored)); \(after)")
        }
        var groupLogs: ShardGroupLogs?
        if configuration.isCluster {
            do {
                try ShardGroupLogs.refuseInCluster(shards: graph.shards.count, dataDirectory: configuration.dataDirectory)
            } catch {
                graph.close()
                audit.close()
                throw error
            }
        } else {
            do {
                groupLogs = try ShardGroupLogs.recover(
                    graph: graph, dataDirectory: configuration.dataDirectory, durability: configuration.durability,
                    metrics: metrics, logger: logger)
            } catch {
                graph.close()
                audit.close()
                throw error
            }
        }
        if configuration.isCluster {
            // A write outside the log would make this replica differ from its peers.
            logger.notice("cluster mode: declared junk phones are refused in new events; those linked before are not quarantined at start (quarantine them by hand)")
        } else {
            try quarantineDeclaredJunk(graph, sites: Array(graph.configuration.sites.keys) + Array(graph.callTracking.pools.keys))
        }
        // Numbers still held by sessions stay theirs across the restart.
        let held = try graph.leaseActivity(heldAt: clockMs())
        graph.callTracking.noteActivity(held)
        if !held.isEmpty { logger.info("\(held.count) tracking-number leases still held, restored from the store") }
        let loops = configuration.eventLoops == 0 ? System.coreCount : configuration.eventLoops
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let (priority, nice, slice) = (configuration.ingestPriority, configuration.ingestNice, configuration.querySliceMicroseconds)
        for loop in group.makeIterator() { loop.execute { ThreadScheduling.applyToIngestThread(priority, nice: nice) } }
        let queryGroup = MultiThreadedEventLoopGroup(numberOfThreads: configuration.queryEventLoops)
        for loop in queryGroup.makeIterator() { loop.execute { ThreadScheduling.applyToQueryThread(sliceMicroseconds: slice) } }
        let heavyQueryPool = NIOThreadPool(numberOfThreads: 2)
        heavyQueryPool.start()
        let queue = IngestQueue(beaconsMax: configuration.queueBeaconsMax)
        metrics.queueBeaconsMax.record(configuration.queueBeaconsMax)
        let writer: any IngestConsumer
        var cluster: ClusterNode?
        var appliedPositions: LogPositions?
        if configuration.isCluster {
            let node: ClusterNode
            do {
                node = try ClusterNode.start(
                    graph: graph, poolOverrides: poolOverrides, audit: audit, metrics: metrics, configuration: configuration,
                    logger: logger, clockMs: clockMs)
            } catch {
                graph.close()
                audit.close()
                throw error
            }
            cluster = node
            writer = LogPublisher(
                log: node.log, layout: graph.layout, queue: queue, metrics: metrics, configuration: configuration,
                logger: logger, clockMs: clockMs)
        } else if configuration.ackAfter == .log, let groupLogs {
            let positions = LogPositions(partitions: graph.shards.count, held: Array(graph.shards.indices))
            appliedPositions = positions
            do {
                writer = try LogFirstWriter(
                    graph: graph, queue: queue, metrics: metrics, configuration: configuration, groupLogs: groupLogs,
                    positions: positions, logger: logger, clockMs: clockMs)
            } catch {
                graph.close()
                audit.close()
                throw error
            }
        } else {
            writer = GraphWriter(
                graph: graph, queue: queue, metrics: metrics, configuration: configuration, groupLogs: groupLogs,
                logger: logger, clockMs: clockMs)
        }
        writer.start()
        let forwarder = cluster.map { _ in QueryForwarder(group: queryGroup, metrics: metrics, tls: configuration.peerTLS(.query)) }
        let queryService = QueryService(
            executor: QueryExecutor(
                shards: graph, metrics: metrics, poolOverrides: poolOverrides, audit: audit, configuration: configuration,
                cluster: cluster, appliedPositions: appliedPositions, clockMs: clockMs),
            authority: TokenAuthority(grants: configuration.tokens), metrics: metrics, heavyPool: heavyQueryPool,
            forwarder: forwarder, budgets: configuration.tokenBudgets(nowNanoseconds: budgetClockNanoseconds))
        var running = Running(
            group: group, queryGroup: queryGroup, heavyQueryPool: heavyQueryPool, graph: graph, poolOverrides: poolOverrides, audit: audit, queue: queue, writer: writer,
            cluster: cluster, forwarder: forwarder, queryService: queryService, listeners: [],
            udpSockets: [],
            ingestConnections: ConnectionRegistry(), queryConnections: ConnectionRegistry(),
            ports: BoundPorts(ingest: 0, query: 0, http: 0, intake: 0))
        running.tls = tls
        running.quotas = configuration.siteQuotas(nowNanoseconds: budgetClockNanoseconds)
        running.tlsReload = tls.map(reloadOnSIGHUP)
        do {
            try await bind(&running)
        } catch {
            logger.error("could not start: \(error)")
            for channel in running.listeners + running.udpSockets { try? await channel.close() }
            await running.intake?.stop()
            await running.internalHTTP?.stop()
            queue.close()
            await writer.waitUntilFinished()
            cluster?.stop()
            graph.close()
            audit.close()
            try? await heavyQueryPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            try? await queryGroup.shutdownGracefully()
            throw error
        }
        if let cluster {
            do {
                try cluster.join(
                    host: configuration.advertisedHost, ports: running.ports,
                    settings: configuration.clusterSettingsFingerprint, metrics: metrics)
            } catch {
                logger.error("cluster mode: could not join the membership list (\(error)); queries for partitions not held here are refused, not forwarded, until a restart")
            }
        }
        running.housekeeping = Housekeeping(
            graph: graph, metrics: metrics, logger: logger, udpPort: running.ports.ingest, clockMs: clockMs
        ).start(on: queryGroup.any())
        if !configuration.retentionDays.isEmpty {
            running.retention = makeRetentionPass(graph: graph, poolOverrides: poolOverrides, cluster: cluster)
            running.retention?.start(intervalMs: configuration.retentionPassIntervalMs)
        }
        state.withLockedValue { $0 = .running(running) }
        healthy.store(true, ordering: .relaxed)
        logStarted(running, loops: loops, staleReaders: graph.staleReadersCleared)
        return running.ports
    }

    /// The collector's TCP listener and its UDP sockets on the same port, one
    /// per event loop (SO_REUSEPORT makes the kernel spread datagrams over
    /// them by source address). With port 0 the OS picks a free TCP port,
    /// whose UDP twin may still be another process's (an ephemeral UDP
    /// socket): then another port is tried, a few times.
    private func bindIngest(_ running: Running) async throws -> (listener: any Channel, sockets: [any Channel]) {
        let host = configuration.bindHost(.ingest)
        let attempts = configuration.ingestPort == 0 ? 8 : 1
        var attempt = 1
        while true {
            let listener = try await ingestTCPBootstrap(running).bind(host: host, port: configuration.ingestPort).get()
            var sockets: [any Channel] = []
            do {
                for loop in running.group.makeIterator() {
                    sockets.append(try await udpBootstrap(loop, running).bind(host: host, port: listener.localAddress!.port!).get())
                }
                return (listener, sockets)
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempt < attempts {
                logger.debug("UDP port \(listener.localAddress!.port!) is taken; trying another (\(error))")
                for channel in sockets + [listener] { try? await channel.close() }
                attempt += 1
            } catch {
                for channel in sockets + [listener] { try? await channel.close() }
                throw error
            }
        }
    }

    private func bind(_ running: inout Running) async throws {
        let (ingestListener, sockets) = try await bindIngest(running)
        running.listeners.append(ingestListener)
        running.udpSockets = sockets
        let ingestPort = ingestListener.localAddress!.port!
        let queryListener = try await queryBootstrap(running).bind(host: configuration.queryHost, port: configuration.queryPort).get()
        running.listeners.append(queryListener)
        let internalHTTP = try await InternalHTTP.start(
            host: configuration.httpHost, port: configuration.httpPort, tls: httpTLS(running, .http), service: running.queryService, metrics: metrics,
            knownSites: configuration.namedSites, isHealthy: { [self] in self.healthy.load(ordering: .relaxed) },
            eventLoopGroup: running.queryGroup, logger: logger)
        running.internalHTTP = internalHTTP
        let intake = try await HTTPIntake.start(
            configuration: configuration, queue: running.queue, graph: running.graph, metrics: metrics,
            eventLoopGroup: running.group, logger: logger, cluster: running.cluster,
            appliedPositions: running.queryService.appliedPositions, quotas: running.quotas,
            tls: httpTLS(running, .intake), clockMs: clockMs)
        running.intake = intake
        running.ports = BoundPorts(
            ingest: ingestPort, query: queryListener.localAddress!.port!, http: internalHTTP.port,
            intake: intake.port)
    }

    private func logStarted(_ running: Running, loops: Int, staleReaders: Int) {
        let host = { [configuration] (port: ServerConfiguration.Listener) in configuration.bindHost(port) }
        logger.info(
            "stitch \(ServerVersion.current) serving data in \(configuration.dataDirectory) (\(running.graph.layout), \(configuration.durability.rawValue) durability, \(loops) collector and \(configuration.queryEventLoops) query event loops)")
        logger.info(
            "listening: ingest tcp+udp \(host(.ingest)):\(running.ports.ingest), queries tcp \(host(.query)):\(running.ports.query), http \(host(.http)):\(running.ports.http) (/metrics, /healthz, /api/v1, /explorer/), intake http \(host(.intake)):\(running.ports.intake) (/v1/beacon, /v1/frames, /v1/lease)")
        for (shard, report) in running.graph.migrations {
            logger.notice(
                "upgraded shard \(shard) from schema \(report.fromSchema) to \(report.toSchema) in place: \(report.steps.joined(separator: "; "))")
        }
        for (shard, outcome) in running.graph.hubRejudgings {
            logger.notice(
                "shard \(shard): re-judged \(outcome.judged) automatic quarantines under the distinguishable-persons rule; released \(outcome.released.count) (their events link again, UNQUARANTINE merges in the change feed), the rest stay")
        }
        if staleReaders > 0 {
            logger.notice("cleared \(staleReaders) stale LMDB reader slots left by a process that died")
        }
        if configuration.tokens.isEmpty {
            logger.notice(
                "no query tokens configured: only loopback clients may query, as admin. Set `tokens` to allow others.")
        } else {
            logger.info("query tokens: \(configuration.tokens.map(\.name).joined(separator: "; "))")
        }
    }

    // MARK: Shutdown

    /// Stops accepting, drains the queue, commits, sends the last acks,
    /// closes the store. Every batch acknowledged before or during shutdown
    /// is durable. Safe to call more than once.
    public func shutdown() async {
        let running: Running? = state.withLockedValue { state in
            guard case .running(let running) = state else { return nil }
            state = .stopped
            return running
        }
        guard let running else { return }
        healthy.store(false, ordering: .relaxed)
        let started = ContinuousClock.now
        logger.info("shutting down: no new connections or datagrams; draining \(running.queue.depth) queued beacons")
        for channel in running.listeners + running.udpSockets {
            try? await channel.close()
        }
        // Requests in flight finish: their batches are queued and answered
        // by the draining writer below.
        let intakeStopped = Task { await running.intake?.stop() }
        running.tlsReload?.cancel()
        if let housekeeping = running.housekeeping {
            // Awaited: a chore running now must finish before the store closes.
            let cancelled = running.queryGroup.any().makePromise(of: Void.self)
            housekeeping.cancel(promise: cancelled)
            try? await cancelled.futureResult.get()
        }
        let connections = running.ingestConnections.all()
        for connection in connections { connection.beginShutdown() }
        running.queue.close()
        await running.writer.waitUntilFinished()
        // Each connection closes itself once its last ack is written; give
        // slow readers the configured bound, then close what is left.
        let timeout = TimeAmount.milliseconds(Int64(configuration.shutdownTimeoutMs))
        let allClosed = EventLoopFuture.andAllComplete(
            connections.map(\.channel.closeFuture), on: running.group.any())
        let settled = running.group.any().makePromise(of: Void.self)
        let once = NIOLockedValueBox(false)
        let settle: @Sendable () -> Void = {
            if once.withLockedValue({ done in defer { done = true }; return !done }) { settled.succeed() }
        }
        allClosed.whenComplete { _ in settle() }
        running.group.any().scheduleTask(in: timeout) { settle() }
        try? await settled.futureResult.get()
        for connection in running.ingestConnections.all() {
            logger.warning("ingest client did not read its last acks in time; closing \(connection.channel)")
            try? await connection.channel.close()
        }
        await intakeStopped.value
        await running.internalHTTP?.stop()
        for channel in running.queryConnections.all() { try? await channel.close() }
        await running.forwarder?.close()
        // No heavy query may read the store after it closes.
        try? await running.heavyQueryPool.shutdownGracefully()
        running.retention?.stop()
        running.cluster?.stop()
        running.graph.close()
        running.audit.close()
        try? await running.group.shutdownGracefully()
        try? await running.queryGroup.shutdownGracefully()
        logger.info("stopped cleanly in \(ContinuousClock.now - started); store closed")
    }

    /// The retention pass: on a single node it applies each erasure itself;
    /// in cluster mode it puts them in the log of the partitions whose leases
    /// this node grants.
    private func makeRetentionPass(graph: ShardedGraph, poolOverrides: PoolOverrides, cluster: ClusterNode?) -> RetentionPass {
        let metrics = metrics, clockMs = clockMs
        let perform: RetentionPass.Perform
        if let cluster {
            perform = { (change) throws(QueryFailure) in _ = try cluster.perform(change) }
        } else {
            perform = { (change) throws(QueryFailure) in
                _ = try change.apply(graph: graph, poolOverrides: poolOverrides, metrics: metrics, audit: nil, nowMs: clockMs())
            }
        }
        return RetentionPass(
            graph: graph, days: configuration.retentionDays, ingestPriority: configuration.ingestPriority,
            ingestNice: configuration.ingestNice, logger: logger, clockMs: clockMs,
            sweeps: { index in cluster?.sweepsRetention(of: index) ?? true }, perform: perform)
    }

    /// Runs the retention pass once now (tests: with an injected clock);
    /// nil when `retention_days` is not set or the server is not running.
    func runRetentionPass() -> RetentionPass.Run? {
        let pass = state.withLockedValue { state -> RetentionPass? in
            if case .running(let running) = state { running.retention } else { nil }
        }
        return pass?.runOnce()
    }

    /// Cluster mode: the last log sequence applied to each partition this
    /// node holds; empty for a single node or when not running.
    public var appliedLogSequences: [Int: UInt64] {
        guard let cluster = state.withLockedValue({ if case .running(let running) = $0 { running.cluster } else { nil } }) else { return [:] }
        return Dictionary(uniqueKeysWithValues: cluster.partitions.map { ($0, cluster.positions.applied($0)) })
    }

    /// Each shard's content digest (`IdentityGraph.contentDigest`): equal
    /// on replicas that applied the same log; nil when not running.
    public func shardDigests() throws -> [String]? {
        guard let graph = state.withLockedValue({ if case .running(let running) = $0 { running.graph } else { nil } }) else { return nil }
        return try graph.shards.map { try $0.contentDigest() }
    }

    /// Ports bound by `start()`; nil when not running.
    public var ports: BoundPorts? {
        state.withLockedValue { if case .running(let running) = $0 { running.ports } else { nil } }
    }
}
