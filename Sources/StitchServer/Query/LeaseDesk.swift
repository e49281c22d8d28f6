import StitchGraph
import StitchIdentity

/// The one way a tracking number is asked for, whether by the query
/// protocol's `lease` request or by the tracker's `GET /v1/lease`: the
/// session id as the tracker wrote it is normalized by the site's rules, the
/// site's allocator grants a number, and the grant is counted.
struct LeaseDesk {
    let callTracking: CallTracking
    let metrics: ServerMetrics

    /// The number `session` should show on `site` at `nowMs`.
    ///
    /// - Throws: `IdentifierRejection` when `session` is not a session id
    ///   the site accepts (junk, too short or long).
    func grant(site: UInt32, session: String, normalizer: IdentifierNormalizer, nowMs: Int64) throws -> LeaseGrant {
        let normalized = try normalizer.normalize(.session, session).value
        let grant = callTracking.lease(site: site, session: normalized, nowMs: nowMs)
        metrics.leases(kind: grant.kind, site: site)
        return grant
    }

    /// An open page of `session` still shows its number (see
    /// `LeaseAllocator.renew`); the renewal to store is returned when the
    /// allocator granted it, for the writer to extend the stored lease.
    func renew(
        site: UInt32, session: String, normalizer: IdentifierNormalizer, nowMs: Int64
    ) throws -> (grant: LeaseGrant, renewal: LeaseRenewal?) {
        let normalized = try normalizer.normalize(.session, session).value
        let grant = callTracking.renew(site: site, session: normalized, nowMs: nowMs)
        metrics.leases(kind: grant.kind, site: site)
        let renewal = grant.kind == .renewed
            ? LeaseRenewal(site: site, session: normalized, timeMs: nowMs, trackingNumber: grant.number) : nil
        return (grant, renewal)
    }

    /// How long the tracker waits between renewals: a third of the hold, so
    /// two lost renewals still leave the number held; at least a second and
    /// at most five minutes.
    func renewAfterMs(site: UInt32) -> Int64 {
        min(300_000, max(1_000, callTracking.pool(site: site).holdMs / 3))
    }

    /// The public intake's lease (`GET /v1/lease`), which anyone can call:
    /// a crawler (by its user agent), a session the graph has not seen active
    /// in the last `sessionActiveWindowMs` (a made-up id), and an address
    /// already holding `addressMax` numbers get the fallback, each counted
    /// by its kind. Otherwise as `grant`.
    func publicGrant(
        site: UInt32, session: String, normalizer: IdentifierNormalizer, nowMs: Int64, graph: IdentityGraph,
        userAgent: String, address: String, addressMax: Int
    ) throws -> LeaseGrant {
        let normalized = try normalizer.normalize(.session, session).value
        let pool = callTracking.pool(site: site)
        let fallback = pool.fallbackNumber
        let grant: LeaseGrant
        if pool.dynamicNumbers.isEmpty {
            grant = LeaseGrant(kind: .noPool, number: nil, heldUntilMs: 0)
        } else if CrawlerRules.isCrawler(userAgent) {
            grant = LeaseGrant(kind: .crawler, number: fallback, heldUntilMs: 0)
        } else if try !Self.isActive(site: site, normalizedSession: normalized, nowMs: nowMs, graph: graph) {
            grant = LeaseGrant(kind: .unknownSession, number: fallback, heldUntilMs: 0)
        } else {
            grant = callTracking.lease(site: site, session: normalized, nowMs: nowMs, address: address, addressMax: addressMax)
        }
        metrics.leases(kind: grant.kind, site: site)
        return grant
    }

    /// How recently a session must have sent an event to be given a number
    /// on the public intake.
    static let sessionActiveWindowMs: Int64 = 30 * 60 * 1000

    /// Whether the graph saw `normalizedSession` within `sessionActiveWindowMs`
    /// (what `publicGrant` asks before it gives a number).
    static func isActive(site: UInt32, normalizedSession: String, nowMs: Int64, graph: IdentityGraph) throws -> Bool {
        try graph.sessionIsActive(site: site, session: normalizedSession, sinceMs: nowMs - sessionActiveWindowMs)
    }
}
