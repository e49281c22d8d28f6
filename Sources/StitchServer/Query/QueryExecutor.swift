import Foundation
import StitchBeacon
import StitchGraph
import StitchMapping
import StitchIdentity
import StitchWire

/// Answers query-protocol requests (`proto/query.proto`) from the graph.
///
/// No sockets here: the connection handler authenticates, bounds and frames;
/// this type turns one authenticated request into one response, or a typed
/// `QueryFailure`. Each read is one short LMDB read transaction, which never
/// waits for the writer.
struct QueryExecutor: Sendable {
    let shards: ShardedGraph
    let metrics: ServerMetrics
    let poolOverrides: PoolOverrides
    /// Admin actions are recorded here before they are applied.
    let audit: AuditLog
    let clockMs: @Sendable () -> Int64
    /// Conversion flags when a history request leaves them 0.
    let uniquePeriodMs: Int64
    let targetCallSeconds: UInt32
    /// Each site's source rules (its own domains, its referral exclusions).
    let classifiers: [UInt32: SourceClassifier]
    /// Largest response payload; a batch lookup stops building past it.
    let responseBytesMax: Int
    /// Cluster mode: the partitions this node holds (nil: a single node holds all).
    let cluster: ClusterNode?
    /// How far each partition (shard) is applied, for `min_position`: the
    /// cluster's, or a single node's with `ack_after = log`; nil otherwise
    /// (every ack comes after the commit, so there is nothing to wait for).
    let appliedPositions: LogPositions?
    /// How long a query with `min_position` waits (`cluster_read_wait_ms`).
    let readWaitMs: Int
    /// Normalizers per site; rebuilt when a pool changes (on any connection),
    /// since a pool's office numbers are its site's junk phones.
    private var normalizers: NormalizerCache

    init(
        shards: ShardedGraph, metrics: ServerMetrics, poolOverrides: PoolOverrides, audit: AuditLog,
        configuration: ServerConfiguration, cluster: ClusterNode? = nil, appliedPositions: LogPositions? = nil,
        clockMs: @escaping @Sendable () -> Int64
    ) {
        self.shards = shards
        self.cluster = cluster
        self.appliedPositions = cluster?.positions ?? appliedPositions
        readWaitMs = cluster?.readWaitMs ?? configuration.clusterReadWaitMs
        normalizers = NormalizerCache(rules: shards)
        self.metrics = metrics
        self.poolOverrides = poolOverrides
        self.audit = audit
        self.clockMs = clockMs
        uniquePeriodMs = Int64(configuration.uniquePeriodMs)
        targetCallSeconds = UInt32(configuration.targetCallSeconds)
        classifiers = Dictionary(uniqueKeysWithValues: Set(configuration.siteDomains.keys).union(configuration.referralExclusions.keys).map {
            ($0, SourceClassifier(siteDomains: configuration.siteDomains[$0] ?? [], extraExclusions: configuration.referralExclusions[$0] ?? []))
        })
        responseBytesMax = configuration.responseBytesMax
    }

    /// The response body for `request`, which must not be `hello`.
    mutating func answer(_ kind: Stitch_V1_Request.OneOf_Kind, access: QueryAccess) throws(QueryFailure)
        -> Stitch_V1_Response.OneOf_Kind
    {
        do {
            switch kind {
            case .hello:
                throw QueryFailure(.invalidArgument, "hello was already accepted on this connection")
            case .lookup(let request):
                try check(site: request.site, access)
                return .lookup(try lookup(site: request.site, request.person, request.includeIdentifiers))
            case .batchLookup(let request):
                try check(site: request.site, access)
                guard request.persons.count <= QueryLimits.batchLookupPersonsMax else {
                    throw QueryFailure(.invalidArgument, "at most \(QueryLimits.batchLookupPersonsMax) persons per batch lookup")
                }
                var results: [Stitch_V1_LookupResponse] = []
                results.reserveCapacity(request.persons.count)
                // Sized while built: a batch of huge persons stops at the
                // response limit instead of building gigabytes first.
                var bytes = 0
                for person in request.persons {
                    let result: Stitch_V1_LookupResponse
                    do {
                        result = try lookup(site: request.site, person, request.includeIdentifiers)
                    } catch let failure as QueryFailure where failure.code == .invalidArgument {
                        result = .with { $0.error = failure.wireMessage }
                    }
                    let encoded: [UInt8] = try result.serializedBytes()
                    bytes += encoded.count + 4
                    guard bytes <= responseBytesMax else {
                        throw QueryFailure(
                            .responseTooLarge,
                            "the answer passed \(responseBytesMax) bytes at person \(results.count + 1) of \(request.persons.count); ask for fewer persons or without identifiers")
                    }
                    results.append(result)
                }
                return .batchLookup(.with { $0.results = results })
            case .history(let request):
                try check(site: request.site, access)
                return .history(try history(request))
            case .mergesSince(let request):
                return .mergesSince(try merges(request, access))
            case .stats:
                guard access.isAdmin else {
                    throw QueryFailure(.permissionDenied, "stats cover every site; they need an admin token")
                }
                return .stats(try stats())
            case .lease(let request):
                try check(site: request.site, access)
                return .lease(try lease(request))
            case .explain(let request):
                try check(site: request.site, access)
                return .explain(try explain(request))
            case .poolSet(let request):
                guard access.isAdmin else {
                    throw QueryFailure(.permissionDenied, "pool_set changes call tracking; it needs an admin token")
                }
                guard request.site != 0 else { throw QueryFailure(.invalidArgument, "site is required") }
                try check(site: request.site, access)
                var pool: NumberPool?
                if request.pool != Stitch_V1_NumberPool() {
                    do {
                        pool = try NumberPool(request.pool)
                    } catch {
                        throw QueryFailure(.invalidArgument, "pool: \(error)")
                    }
                }
                return try perform(AdminChange(site: request.site, kind: .poolSet(pool), tokenName: access.name))
            case .poolGet(let request):
                try check(site: request.site, access)
                return .poolGet(poolResponse(site: request.site))
            case .quarantine(let request):
                try checkAdmin(access, "quarantine changes persons")
                try check(site: request.site, access)
                guard request.reason.utf8.count <= GraphLimits.quarantineReasonBytesMax else {
                    throw QueryFailure(.invalidArgument, "reason: at most \(GraphLimits.quarantineReasonBytesMax) bytes")
                }
                let identifier = try normalize(request.identifier, site: request.site)
                return try perform(AdminChange(site: request.site, kind: .quarantine(identifier, reason: request.reason), tokenName: access.name))
            case .unquarantine(let request):
                try checkAdmin(access, "unquarantine changes persons")
                try check(site: request.site, access)
                let identifier = try normalize(request.identifier, site: request.site)
                return try perform(AdminChange(site: request.site, kind: .unquarantine(identifier), tokenName: access.name))
            case .shared(let request):
                try check(site: request.site, access)
                let limit = request.limit == 0 ? 1000 : min(Int(request.limit), GraphLimits.sharedListedMax)
                let listed = try shards.graph(site: request.site).shared(site: request.site, limit: limit)
                return .shared(.with { $0.identifiers = listed.map(Stitch_V1_SharedIdentifier.init) })
            case .personGraph(let request):
                try check(site: request.site, access)
                return .personGraph(try personGraph(request))
            case .forget(let request):
                try checkAdmin(access, "forget erases a person")
                try check(site: request.site, access)
                let identifier = try normalize(request.identifier, site: request.site)
                return try perform(AdminChange(site: request.site, kind: .forget(identifier), tokenName: access.name))
            case .audit(let request):
                try checkAdmin(access, "the audit log covers every site")
                guard request.limit <= AuditLog.readLimitMax else {
                    throw QueryFailure(.invalidArgument, "limit: at most \(AuditLog.readLimitMax)")
                }
                let entries = try audit.read(afterSeq: request.afterSeq, limit: Int(request.limit), site: request.site)
                return .audit(.with {
                    $0.entries = entries
                    $0.nextSeq = entries.last?.seq ?? 0
                })
            }
        } catch let failure as QueryFailure {
            throw failure
        } catch {
            // Store errors: typed for the client, loud in the log and metrics.
            throw QueryFailure(.internal, "store error: \(error)")
        }
    }

    // MARK: Requests

    private mutating func lookup(
        site: UInt32, _ ref: Stitch_V1_PersonRef, _ includeIdentifiers: Bool
    ) throws -> Stitch_V1_LookupResponse {
        let person: Person?
        switch ref.target {
        case .identifier(let identifier):
            person = try shards.graph(site: site).lookup(
                site: site, identifier: try normalize(identifier, site: site), includeIdentifiers: includeIdentifiers)
        case .personID(let id):
            person = try shards.graph(site: site).lookup(site: site, personID: id, includeIdentifiers: includeIdentifiers)
        case nil:
            throw QueryFailure(.invalidArgument, "person: give an identifier or a person_id")
        }
        return .with {
            if let person {
                $0.found = true
                $0.person = Stitch_V1_Person(person, caps: shards.graph(site: site).configuration.rules(for: site).guards.capsByKind)
            }
        }
    }

    private mutating func history(_ request: Stitch_V1_HistoryRequest) throws -> Stitch_V1_HistoryResponse {
        var cursor: HistoryCursor?
        if !request.cursor.isEmpty {
            guard let parsed = HistoryCursor(bytes: Array(request.cursor)) else {
                throw QueryFailure(.invalidArgument, "cursor: not one this server returned")
            }
            cursor = parsed
        }
        var types: Set<EventType> = []
        for type in request.types {
            guard type.rawValue >= 1, let eventType = EventType(rawValue: type.rawValue - 1) else {
                throw QueryFailure(.invalidArgument, "types: unknown event type \(type.rawValue)")
            }
            types.insert(eventType)
        }
        guard request.toMs == 0 || request.toMs > request.fromMs else {
            throw QueryFailure(.invalidArgument, "to_ms must be after from_ms (or 0 for no end)")
        }
        guard request.lookbackMs >= 0, request.halfLifeMs >= 0, request.uniquePeriodMs >= 0 else {
            throw QueryFailure(.invalidArgument, "lookback_ms, half_life_ms and unique_period_ms are not negative")
        }
        if case .UNRECOGNIZED(let model) = request.model {
            throw QueryFailure(.invalidArgument, "model: unknown attribution model \(model)")
        }
        let conversions = request.conversions ? conversionOptions(request) : nil
        let query = HistoryQuery(
            fromMs: request.fromMs == 0 ? .min : request.fromMs,
            toMs: request.toMs == 0 ? .max : request.toMs,
            types: types,
            limit: request.limit == 0 ? GraphLimits.historyEventsDefault : Int(request.limit),
            cursor: cursor,
            newestFirst: request.newestFirst,
            conversionContextMs: conversions?.contextMs
        )
        let page: HistoryPage?
        switch request.person.target {
        case .identifier(let identifier):
            page = try shards.graph(site: request.site).history(
                site: request.site, identifier: try normalize(identifier, site: request.site), query: query)
        case .personID(let id):
            page = try shards.graph(site: request.site).history(site: request.site, personID: id, query: query)
        case nil:
            throw QueryFailure(.invalidArgument, "person: give an identifier or a person_id")
        }
        guard let page else { throw QueryFailure(.notFound, "no such person in site \(request.site)") }
        return Stitch_V1_HistoryResponse(page, conversions: conversions)
    }

    private func merges(
        _ request: Stitch_V1_MergesSinceRequest, _ access: QueryAccess
    ) throws -> Stitch_V1_MergesSinceResponse {
        if request.site != 0 { try check(site: request.site, access) }
        let limit = request.limit == 0 ? QueryLimits.mergesDefault : min(Int(request.limit), QueryLimits.mergesMax)
        var site: UInt32? = request.site == 0 ? nil : request.site
        if site == nil, let sites = access.sites, sites.count == 1 { site = sites.first }
        // A change seq is a position in one shard's feed: a feed of every site
        // is one per shard, so with several shards it is asked for per site.
        guard let graph = site.map({ shards.graph(site: $0) }) ?? shards.onlyShard else {
            throw QueryFailure(
                .invalidArgument,
                "this server keeps its sites in \(shards.layout.count) shards, each with its own change feed: give a site")
        }
        var (records, scannedThrough) = try graph.mergesPage(after: request.cursor, limit: limit, site: site)
        // The page's cursor is the last merge scanned, so a page filtered down
        // (one quiet site, or a multi-site token) still moves the client forward.
        let next = scannedThrough
        if site == nil, let sites = access.sites { records.removeAll { !sites.contains($0.site) } }
        return .with {
            $0.merges = records.map(Stitch_V1_Merge.init)
            $0.nextCursor = next
        }
    }

    private func stats() throws -> Stitch_V1_StatsResponse {
        let totals = try shards.totals()
        let info = shards.storeInfo()
        return .with {
            $0.counters = metrics.counterValues().map { entry in
                .with {
                    $0.name = entry.name
                    $0.value = entry.value
                }
            }
            $0.persons = totals.persons
            $0.identifiers = totals.identifiers
            $0.events = totals.events
            $0.merges = totals.merges
            $0.storeBytes = UInt64(info.usedBytes)
            $0.mapBytes = UInt64(info.mapBytes)
        }
    }

    private func conversionOptions(_ request: Stitch_V1_HistoryRequest) -> ConversionOptions {
        ConversionOptions(
            model: request.model,
            lookbackMs: request.lookbackMs == 0 ? ConversionOptions.lookbackMsDefault : request.lookbackMs,
            halfLifeMs: request.halfLifeMs == 0 ? ConversionOptions.halfLifeMsDefault : request.halfLifeMs,
            uniquePeriodMs: request.uniquePeriodMs == 0 ? uniquePeriodMs : request.uniquePeriodMs,
            targetCallSeconds: request.targetCallSeconds == 0 ? targetCallSeconds : request.targetCallSeconds,
            classifier: classifiers[request.site] ?? SourceClassifier())
    }

    // MARK: Call tracking

    private mutating func lease(_ request: Stitch_V1_LeaseRequest) throws(QueryFailure) -> Stitch_V1_LeaseResponse {
        guard request.session.kind == .session else {
            throw QueryFailure(.invalidArgument, "session: give an identifier of kind SESSION")
        }
        let grant: LeaseGrant
        do {
            grant = try LeaseDesk(callTracking: shards.callTracking, metrics: metrics).grant(
                site: request.site, session: request.session.value, normalizer: normalizers.normalizer(site: request.site), nowMs: clockMs())
        } catch {
            throw QueryFailure(.invalidArgument, "session '\(request.session.value)' refused: \(error)")
        }
        return .with {
            $0.trackingNumber = grant.number ?? ""
            $0.heldUntilMs = grant.heldUntilMs
            switch grant.kind {
            case .sticky: $0.kind = .sticky
            case .new: $0.kind = .new
            case .fallback: $0.kind = .fallback
            case .noPool: $0.kind = .noPool
            // Renewals and the public intake's refusals never come from grant(); unspecified for completeness.
            case .renewed, .capped, .lapsed, .crawler, .unknownSession, .addressLimit: $0.kind = .unspecified
            }
        }
    }

    private mutating func explain(_ request: Stitch_V1_ExplainRequest) throws -> Stitch_V1_ExplainResponse {
        let a = try normalize(request.a, site: request.site)
        let b = try normalize(request.b, site: request.site)
        do {
            return Stitch_V1_ExplainResponse(try shards.graph(site: request.site).explain(site: request.site, a: a, b: b))
        } catch .personTooLarge(let events) {
            throw QueryFailure(.responseTooLarge, ExplainError.personTooLarge(events: events).description)
        }
    }

    private mutating func personGraph(_ request: Stitch_V1_PersonGraphRequest) throws -> Stitch_V1_PersonGraphResponse {
        let graph = shards.graph(site: request.site)
        let offset = Int(request.identifiersOffset)
        let limit = request.identifiersLimit == 0
            ? IdentityGraph.graphIdentifiersDefault : min(Int(request.identifiersLimit), IdentityGraph.graphIdentifiersMax)
        let drawn: PersonGraph?
        do {
            switch request.person.target {
            case .identifier(let identifier):
                drawn = try graph.personGraph(
                    site: request.site, identifier: try normalize(identifier, site: request.site), offset: offset, limit: limit)
            case .personID(let id):
                drawn = try graph.personGraph(site: request.site, personID: id, offset: offset, limit: limit)
            case nil:
                throw QueryFailure(.invalidArgument, "person: give an identifier or a person_id")
            }
        } catch let error as ExplainError {
            guard case .personTooLarge = error else { throw QueryFailure(.internal, error.description) }
            throw QueryFailure(.responseTooLarge, error.description)
        }
        guard let drawn else { throw QueryFailure(.notFound, "no such person in site \(request.site)") }
        return Stitch_V1_PersonGraphResponse(drawn)
    }

    private func poolResponse(site: UInt32) -> Stitch_V1_PoolResponse {
        Stitch_V1_PoolResponse(site: site, callTracking: shards.callTracking, nowMs: clockMs())
    }

    // MARK: Helpers

    private func checkAdmin(_ access: QueryAccess, _ what: String) throws(QueryFailure) {
        guard access.isAdmin else { throw QueryFailure(.permissionDenied, "\(what); it needs an admin token") }
    }

    /// Applies an admin change: here, or in cluster mode through the log,
    /// so that every replica applies it at the same point.
    private func perform(_ change: AdminChange) throws(QueryFailure) -> Stitch_V1_Response.OneOf_Kind {
        if let cluster { return try cluster.perform(change) }
        return try change.apply(graph: shards, poolOverrides: poolOverrides, metrics: metrics, audit: audit, nowMs: clockMs())
    }

    private func check(site: UInt32, _ access: QueryAccess) throws(QueryFailure) {
        guard site != 0 else { throw QueryFailure(.invalidArgument, "site is required") }
        guard access.allows(site: site) else {
            throw QueryFailure(.permissionDenied, "this token may not read site \(site)")
        }
        if let cluster {
            let partition = shards.layout.shard(of: site)
            guard cluster.positions.holds(partition) else {
                throw QueryFailure(
                    .unavailable,
                    "site \(site) is in partition \(partition), which this node does not hold (it holds \(cluster.partitions.map(String.init).joined(separator: ","))); ask a node that does")
            }
        }
    }

    private mutating func normalize(_ identifier: Stitch_V1_Identifier, site: UInt32) throws(QueryFailure)
        -> NormalizedIdentifier
    {
        guard let kind = IdentifierKind(identifier.kind) else {
            throw QueryFailure(.invalidArgument, "identifier kind \(identifier.kind.rawValue) is unknown")
        }
        let normalizer = normalizers.normalizer(site: site)
        do {
            return try normalizer.normalize(
                kind, identifier.value, namespace: identifier.namespace.isEmpty ? nil : identifier.namespace)
        } catch {
            throw QueryFailure(.invalidArgument, "\(kind.name) '\(identifier.value)' refused: \(error)")
        }
    }
}
