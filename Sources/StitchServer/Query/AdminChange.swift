import Foundation
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire

/// One admin change to a site — quarantine, unquarantine, forget, pool_set
/// — checked and normalized, or the retention pass's erasure of an inactive
/// person, applied in one place: by the query executor (or the retention
/// pass) on a single node, and in cluster mode by every replica's applier
/// when the change's log entry comes (so replicas change at the same point
/// of the log, with the entry's clock).
///
/// Each is idempotent: applied twice (a replica that crashed between the
/// change's transaction and recording its log sequence applies it again),
/// the second time changes nothing. Admin changes are written to the audit
/// log before they are applied and completed with their outcome after.
struct AdminChange: Sendable {
    enum Kind: Sendable {
        case quarantine(NormalizedIdentifier, reason: String)
        case unquarantine(NormalizedIdentifier)
        case forget(NormalizedIdentifier)
        /// nil: the site has no pool any more.
        case poolSet(NumberPool?)
        /// The retention pass: erase the person unless it had activity since
        /// `inactiveBeforeMs` (not an admin action; not audited).
        case expire(personID: UInt64, inactiveBeforeMs: Int64)
    }

    /// The token name the retention pass's changes carry.
    static let retentionTokenName = "retention"

    var site: UInt32
    var kind: Kind
    /// The token's name that asked (logs); never the token.
    var tokenName: String

    /// What the change did, as the query protocol answers it; recorded in
    /// `audit` first (when given) unless it is a retention erasure.
    func apply(
        graph: ShardedGraph, poolOverrides: PoolOverrides, metrics: ServerMetrics, audit: AuditLog?, nowMs: Int64
    ) throws(QueryFailure) -> Stitch_V1_Response.OneOf_Kind {
        if case .expire = kind { return try applyChange(graph: graph, poolOverrides: poolOverrides, metrics: metrics, nowMs: nowMs) }
        guard let audit else { return try applyChange(graph: graph, poolOverrides: poolOverrides, metrics: metrics, nowMs: nowMs) }
        let seq: UInt64
        do {
            seq = try audit.begin(action: kindName, site: site, tokenName: tokenName, arguments: auditArguments(graph), timeMs: nowMs)
        } catch {
            throw QueryFailure(.internal, "the audit log could not record this \(kindName), so nothing changed: \(error)")
        }
        // A failure to record the outcome leaves the entry "started", which
        // says what is known: the action may or may not have been applied.
        do {
            let answer = try applyChange(graph: graph, poolOverrides: poolOverrides, metrics: metrics, nowMs: nowMs)
            try? audit.finish(seq, outcome: Self.outcome(of: answer))
            return answer
        } catch {
            try? audit.finish(seq, outcome: "refused: \(error.message)")
            throw error
        }
    }

    private func applyChange(
        graph: ShardedGraph, poolOverrides: PoolOverrides, metrics: ServerMetrics, nowMs: Int64
    ) throws(QueryFailure) -> Stitch_V1_Response.OneOf_Kind {
        do {
            let shard = graph.graph(site: site)
            let answer = try applyToStore(shard, graph: graph, poolOverrides: poolOverrides, metrics: metrics, nowMs: nowMs)
            // An operator told "done" must not see it undone by a machine
            // crash in `nosync` or `log` mode (the group log holds beacons,
            // not admin changes, so a checkpoint must): a forget above all.
            // Retention's expiries come in passes of many and are left to the
            // periodic checkpoint; a pass undone by a crash is redone.
            if case .expire = kind {} else { try shard.makeDurable() }
            return answer
        } catch let failure as QueryFailure {
            throw failure
        } catch let error as GraphError {
            // A person too large to repair: a clear refusal, not a store failure.
            throw QueryFailure(.invalidArgument, "\(error)")
        } catch {
            throw QueryFailure(.internal, "store error: \(error)")
        }
    }

    /// The change itself, in `shard`'s store (and the pool overrides).
    private func applyToStore(
        _ shard: IdentityGraph, graph: ShardedGraph, poolOverrides: PoolOverrides, metrics: ServerMetrics, nowMs: Int64
    ) throws -> Stitch_V1_Response.OneOf_Kind {
        switch kind {
        case .quarantine(let identifier, let reason):
            let result = try shard.quarantine(site: site, identifier: identifier, reason: reason, nowMs: nowMs)
            metrics.countRepairs(result.changed ? [result] : [], source: "manual")
            return .quarantine(Stitch_V1_RepairResponse(result))
        case .unquarantine(let identifier):
            guard let result = try shard.unquarantine(site: site, identifier: identifier, nowMs: nowMs) else {
                throw QueryFailure(.notFound, "no such identifier in site \(site)")
            }
            return .unquarantine(Stitch_V1_RepairResponse(result))
        case .forget(let identifier):
            guard let erasure = try shard.forget(site: site, identifier: identifier, nowMs: nowMs) else {
                throw QueryFailure(.notFound, "no such identifier in site \(site)")
            }
            metrics.counter(.personsErased).increment()
            return .forget(Stitch_V1_ForgetResponse(erasure))
        case .poolSet(let pool):
            try poolOverrides.set(site: site, pool?.wire ?? Stitch_V1_NumberPool())
            graph.callTracking.setPool(site: site, pool)
            // Office numbers are junk phones from now on; those already
            // linked are quarantined and their persons repaired at once.
            let office = (pool?.officeNumbers ?? []).sorted().map { NormalizedIdentifier(uncheckedKind: .phone, value: $0) }
            metrics.countRepairs(try shard.quarantineJunk(site: site, identifiers: office, nowMs: nowMs), source: "junk")
            return .poolSet(Stitch_V1_PoolResponse(site: site, callTracking: graph.callTracking, nowMs: nowMs))
        case .expire(let personID, let inactiveBeforeMs):
            guard let erasure = try shard.expire(site: site, personID: personID, inactiveBeforeMs: inactiveBeforeMs, nowMs: nowMs) else {
                throw QueryFailure(.notFound, "person \(personID) of site \(site) is gone or was active since \(inactiveBeforeMs)")
            }
            metrics.counter(.personsExpired).increment()
            return .forget(Stitch_V1_ForgetResponse(erasure))
        }
    }

    /// The request type's name, for logs.
    var kindName: String {
        switch kind {
        case .quarantine: "quarantine"
        case .unquarantine: "unquarantine"
        case .forget: "forget"
        case .poolSet: "pool_set"
        case .expire: "retention erasure"
        }
    }

    /// The arguments the audit log records: identifiers by kind and keyed
    /// hash, never by value; a pool by its sizes.
    private func auditArguments(_ graph: ShardedGraph) -> KeyValuePairs<String, String> {
        func hash(_ identifier: NormalizedIdentifier) -> String {
            graph.graph(site: site).identifierHash(site: site, identifier: identifier).map { String(format: "%02x", $0) }.joined()
        }
        switch kind {
        case .quarantine(let identifier, let reason):
            return ["identifier_kind": identifier.kind.name, "identifier_hash": hash(identifier), "reason": reason]
        case .unquarantine(let identifier), .forget(let identifier):
            return ["identifier_kind": identifier.kind.name, "identifier_hash": hash(identifier)]
        case .poolSet(nil):
            return ["pool": "none"]
        case .poolSet(let pool?):
            return [
                "dynamic_numbers": String(pool.dynamicNumbers.count), "static_numbers": String(pool.staticNumbers.count),
                "office_numbers": String(pool.officeNumbers.count), "hold_ms": String(pool.holdMs),
                "fallback_number": pool.fallbackNumber == nil ? "none" : "set",
            ]
        case .expire(let personID, let inactiveBeforeMs):
            return ["person_id": String(personID), "inactive_before_ms": String(inactiveBeforeMs)]
        }
    }

    /// An applied change's outcome, as the audit log records it.
    private static func outcome(of answer: Stitch_V1_Response.OneOf_Kind) -> String {
        switch answer {
        case .quarantine(let repair), .unquarantine(let repair):
            repair.changed ? "ok: \(repair.personsRepaired) persons repaired" : "ok: nothing to change"
        case .forget(let erasure):
            "ok: person \(erasure.personID) erased (\(erasure.identifiers) identifiers, \(erasure.events) events; erasure \(erasure.erasureSeq))"
        case .poolSet(let pool): "ok: \(pool.numbersHeld) numbers held"
        default: "ok"
        }
    }

    // MARK: In the cluster's log

    /// The change as a log entry's `admin`.
    var logAdmin: Stitch_V1_LogAdmin {
        .with {
            $0.site = site
            $0.tokenName = tokenName
            switch kind {
            case .quarantine(let identifier, let reason):
                $0.quarantine = .with {
                    $0.identifier = Stitch_V1_LogIdentifier(identifier)
                    $0.reason = reason
                }
            case .unquarantine(let identifier): $0.unquarantine = Stitch_V1_LogIdentifier(identifier)
            case .forget(let identifier): $0.forget = Stitch_V1_LogIdentifier(identifier)
            case .poolSet(let pool):
                $0.poolSet = .with { $0.pool = pool.map { (try? $0.wire.serializedData()) ?? Data() } ?? Data() }
            case .expire(let personID, let inactiveBeforeMs):
                $0.expire = .with {
                    $0.personID = personID
                    $0.inactiveBeforeMs = inactiveBeforeMs
                }
            }
        }
    }

    /// The change a log entry carries.
    init(_ admin: Stitch_V1_LogAdmin) throws(LogEntryError) {
        let identifier = { (wire: Stitch_V1_LogIdentifier) throws(LogEntryError) in try NormalizedIdentifier(wire) }
        site = admin.site
        tokenName = admin.tokenName
        switch admin.change {
        case .quarantine(let change): kind = .quarantine(try identifier(change.identifier), reason: change.reason)
        case .unquarantine(let wire): kind = .unquarantine(try identifier(wire))
        case .forget(let wire): kind = .forget(try identifier(wire))
        case .poolSet(let change):
            if change.pool.isEmpty {
                kind = .poolSet(nil)
            } else {
                do {
                    kind = .poolSet(try NumberPool(try Stitch_V1_NumberPool(serializedBytes: change.pool)))
                } catch {
                    throw LogEntryError("pool_set: \(error)")
                }
            }
        case .expire(let change): kind = .expire(personID: change.personID, inactiveBeforeMs: change.inactiveBeforeMs)
        case nil:
            throw LogEntryError("an admin entry without a change (written by a newer Stitch?)")
        }
    }

    init(site: UInt32, kind: Kind, tokenName: String) {
        self.site = site
        self.kind = kind
        self.tokenName = tokenName
    }
}

extension Stitch_V1_PoolResponse {
    /// A site's pool as `pool_get` and `pool_set` answer it: the pool and how
    /// many of its numbers are held at `nowMs`.
    init(site: UInt32, callTracking: CallTracking, nowMs: Int64) {
        self.init()
        self.site = site
        if let pool = callTracking.pools[site] { self.pool = pool.wire }
        numbersHeld = UInt32(callTracking.heldCount(site: site, nowMs: nowMs))
    }
}
