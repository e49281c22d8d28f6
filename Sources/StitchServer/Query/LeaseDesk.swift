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
}
