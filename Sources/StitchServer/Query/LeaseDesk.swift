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
}
