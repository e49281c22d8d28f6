import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StitchGraph
import StitchWire

/// How an authenticated request is answered, whichever transport brought it:
/// the framed binary protocol (`QueryHandler`) or the JSON API (`QueryAPI`).
///
/// One place decides where a request runs — here on the caller's thread,
/// on the heavy pool, or on another node of the cluster — and one executor
/// (`QueryExecutor`) answers it, so both transports share the access rules,
/// limits and answers. Transports only authenticate, bound and encode.
final class QueryService: Sendable {
    /// Where one request runs.
    enum Route {
        /// On the caller's thread: a microsecond read.
        case here
        /// On the heavy pool, after waiting (cluster mode, `ack_after = log`)
        /// until this node applied `waitingFor`, when given.
        case heavy(waitingFor: Stitch_V1_LogPosition?)
        /// On another node: a holder of the site's partition, or its lease node.
        case forward(ClusterMember)

        var isHere: Bool {
            if case .here = self { true } else { false }
        }
    }

    let metrics: ServerMetrics
    let authority: TokenAuthority
    /// Threads for heavy requests (histories, batch lookups, explain, merges,
    /// stats, graphs, repairs), so that they never hold an event loop that
    /// answers other clients' lookups.
    let heavyPool: NIOThreadPool
    /// Cluster mode: sends requests for partitions held elsewhere to a holder.
    let forwarder: QueryForwarder?
    /// The executor transports copy: a connection keeps its own copy (its
    /// normalizer cache is per connection); the JSON API takes a copy per
    /// request and returns it warmed.
    private let template: NIOLockedValueBox<QueryExecutor>
    /// Cluster mode: the partitions held and applied; nil for a single node.
    /// Read on every request's routing, so kept here, not behind the lock.
    let cluster: ClusterNode?
    /// How far each partition is applied (`QueryExecutor.appliedPositions`).
    let appliedPositions: LogPositions?
    /// Which partition a site is in.
    private let layout: ShardLayout

    /// Requests per second by grant name (`token_requests_per_second`); nil: unlimited.
    let budgets: TokenBudgets?

    init(executor: QueryExecutor, authority: TokenAuthority, metrics: ServerMetrics, heavyPool: NIOThreadPool,
         forwarder: QueryForwarder?, budgets: TokenBudgets? = nil) {
        self.budgets = budgets
        template = NIOLockedValueBox(executor)
        cluster = executor.cluster
        appliedPositions = executor.appliedPositions
        layout = executor.shards.layout
        self.authority = authority
        self.metrics = metrics
        self.heavyPool = heavyPool
        self.forwarder = forwarder
    }

    /// A copy of the executor, for a connection to keep.
    var executor: QueryExecutor { template.withLockedValue { $0 } }

    /// Request kinds whose cost grows with the data (a person's history or
    /// graph, a thousand lookups, a whole person's events, the merge feed,
    /// totals), and repairs, which wait for the store's write lock.
    static func isHeavy(_ kind: Stitch_V1_Request.OneOf_Kind) -> Bool {
        switch kind {
        case .history, .batchLookup, .explain, .mergesSince, .stats, .personGraph, .audit: true
        case .quarantine, .unquarantine, .shared, .forget, .poolSet: true
        default: false
        }
    }

    /// Where `kind` runs. A request another node forwarded (`isForwarded`)
    /// is never forwarded again: stale membership cannot bounce it.
    func route(_ kind: Stitch_V1_Request.OneOf_Kind, minPosition: Stitch_V1_LogPosition?, isForwarded: Bool) -> Route {
        if let target = forwardTarget(of: kind, isForwarded: isForwarded), forwarder != nil { return .forward(target) }
        // Read-your-writes: a request that must see a log position this node
        // has not applied yet waits for it on the heavy pool.
        let mustWait = minPosition.map { position in
            appliedPositions.map { $0.applied(Int(position.partition)) < position.sequence } ?? false
        } ?? false
        if mustWait { return .heavy(waitingFor: minPosition) }
        return Self.isHeavy(kind) ? .heavy(waitingFor: nil) : .here
    }

    /// Runs `kind` on the heavy pool with `executor` (a copy: its normalizer
    /// cache is only a cache); the future completes on `eventLoop`.
    func runHeavy(
        _ kind: Stitch_V1_Request.OneOf_Kind, access: QueryAccess, waitingFor position: Stitch_V1_LogPosition?,
        executor: QueryExecutor, eventLoop: any EventLoop
    ) -> EventLoopFuture<Result<Stitch_V1_Response.OneOf_Kind, QueryFailure>> {
        let metrics = metrics
        return heavyPool.runIfActive(eventLoop: eventLoop) { () -> Result<Stitch_V1_Response.OneOf_Kind, QueryFailure> in
            var executor = executor
            do throws(QueryFailure) {
                if let position, let positions = executor.appliedPositions {
                    try Self.wait(
                        for: position, positions: positions, waitMs: executor.readWaitMs, isCluster: executor.cluster != nil,
                        metrics: metrics)
                }
                return .success(try executor.answer(kind, access: access))
            } catch {
                return .failure(error)
            }
        }.flatMapErrorThrowing { error in
            // The pool is stopping.
            .failure(QueryFailure(.unavailable, "server is shutting down (\(error))"))
        }
    }

    /// `target`'s answer to `kind`, asked with the client's own token.
    func forward(
        _ kind: Stitch_V1_Request.OneOf_Kind, minPosition: Stitch_V1_LogPosition?, token: String, to target: ClusterMember
    ) async -> Stitch_V1_Response.OneOf_Kind {
        guard let forwarder else {
            return .error(QueryFailure(.internal, "forwarding without a forwarder").wireMessage)
        }
        return await forwarder.forward(kind, minPosition: minPosition, token: token, to: target)
    }

    /// Takes one request from the budget of `access`'s grant; over it, the
    /// request is refused `UNAVAILABLE` (retry later), as an overloaded
    /// server's, and the caller backs off.
    func admit(_ access: QueryAccess) throws(QueryFailure) {
        guard let budgets, let over = budgets.admit([access.name: 1]) else { return }
        throw QueryFailure(
            .unavailable, "token '\(over.key)' is over its budget of \(over.perSecond) requests/s (token_requests_per_second); retry after a pause")
    }

    /// The whole path for one request of a transport without connection
    /// state (the JSON API): route, run, and count a failure.
    func answer(
        _ kind: Stitch_V1_Request.OneOf_Kind, access: QueryAccess, token: String, minPosition: Stitch_V1_LogPosition?,
        eventLoop: any EventLoop
    ) async -> Stitch_V1_Response.OneOf_Kind {
        let type = QueryHandler.typeName(kind)
        let start = ContinuousClock.now
        let body: Stitch_V1_Response.OneOf_Kind
        do throws(QueryFailure) {
            try admit(access)
        } catch {
            metrics.counter(.queryErrors, [("type", type), ("code", error.label)]).increment()
            return .error(error.wireMessage)
        }
        switch route(kind, minPosition: minPosition, isForwarded: false) {
        case .here:
            var executor = self.executor
            do throws(QueryFailure) {
                body = try executor.answer(kind, access: access)
            } catch {
                body = .error(error.wireMessage)
            }
            template.withLockedValue { $0 = executor }  // keep the warmed normalizers
        case .heavy(let position):
            let result: Result<Stitch_V1_Response.OneOf_Kind, QueryFailure>
            do {
                result = try await runHeavy(kind, access: access, waitingFor: position, executor: executor, eventLoop: eventLoop).get()
            } catch {
                result = .failure(QueryFailure(.unavailable, "server is shutting down (\(error))"))
            }
            switch result {
            case .success(let answer): body = answer
            case .failure(let failure): body = .error(failure.wireMessage)
            }
        case .forward(let target):
            body = await forward(kind, minPosition: minPosition, token: token, to: target)
        }
        if case .error(let error) = body {
            metrics.counter(.queryErrors, [("type", type), ("code", error.code.label)]).increment()
        }
        metrics.queryTimer(type: type).recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        return body
    }

    /// Cluster mode: the node that answers `kind` when it is not this one —
    /// a live holder of the site's partition when this node holds none of
    /// it, and for a lease the partition's lease node. nil: answer here.
    private func forwardTarget(of kind: Stitch_V1_Request.OneOf_Kind, isForwarded: Bool) -> ClusterMember? {
        guard let cluster, !isForwarded, let membership = cluster.membership, let site = kind.site else { return nil }
        let partition = layout.shard(of: site)
        if case .lease = kind, let leaseNode = membership.leaseNode(of: partition) {
            return leaseNode.node == cluster.name ? nil : leaseNode
        }
        return cluster.positions.holds(partition) ? nil : membership.forwardTarget(for: partition)
    }

    /// Blocks this heavy-pool thread until the node has applied `position`,
    /// at most `cluster_read_wait_ms`.
    private static func wait(
        for position: Stitch_V1_LogPosition, positions: LogPositions, waitMs: Int, isCluster: Bool, metrics: ServerMetrics
    ) throws(QueryFailure) {
        let partition = Int(position.partition)
        guard positions.holds(partition) else {
            metrics.counter(.logReadWaits, [("outcome", "not_held")]).increment()
            throw QueryFailure(
                .unavailable,
                isCluster ? "this node does not hold partition \(partition); ask a node that does"
                    : "partition \(partition) is not a shard of this node (it has \(positions.partitionCount)): an ack of another server?")
        }
        guard positions.wait(partition, through: position.sequence, waitMs: waitMs) else {
            metrics.counter(.logReadWaits, [("outcome", "timed_out")]).increment()
            throw QueryFailure(
                .unavailable,
                "this node has applied partition \(partition) through \(positions.applied(partition)), not yet \(position.sequence), after \(waitMs) ms; retry\(isCluster ? ", or ask another node" : " (this node's appliers are behind: stitch_log_lag_entries)")")
        }
        metrics.counter(.logReadWaits, [("outcome", "reached")]).increment()
    }
}
