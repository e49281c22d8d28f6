import StitchIdentity

/// The latest activity of sessions that hold no lease yet, kept in memory so
/// that a `number_shown` applied after its session's later events (which came
/// in another connection's batch) opens a lease those events keep alive, as
/// they would have in order. Without it the lease ended at shown + hold, and a
/// call made while the visitor was still active went unmatched — a hidden
/// caller's call then landed in nobody's history (README, "Load harness").
///
/// Only sessions of sites with dynamic numbers are noted. Bounded: when full,
/// the older half is dropped; out-of-order windows are seconds long, so only
/// the newest entries matter. Not durable: after a restart the order
/// dependence is back for the batches in flight, as before this existed.
/// Deterministic given the order events are applied in.
struct UnleasedActivity: Sendable {
    static let sessionsMax = 100_000

    private var latest: [UInt64: Int64] = [:]

    /// `session` (no lease) was active at `timeMs`.
    mutating func note(session: UInt64, timeMs: Int64) {
        if let known = latest[session], known >= timeMs { return }
        if latest.count >= Self.sessionsMax { dropOlderHalf() }
        latest[session] = timeMs
    }

    /// The session's latest noted activity. Read, not taken: a write that
    /// LMDB reruns after growing its map must find it again (the entry ages
    /// out; once the session holds a lease nothing is noted for it).
    func latest(session: UInt64) -> Int64? {
        latest[session]
    }

    /// Forgets erased sessions.
    mutating func forget(_ sessions: some Sequence<UInt64>) {
        for session in sessions { latest[session] = nil }
    }

    private mutating func dropOlderHalf() {
        let times = latest.values.sorted()
        let cutoff = times[times.count / 2]
        latest = latest.filter { $0.value > cutoff }
    }
}

extension IdentityGraph {
    /// Whether `session` (normalized) of `site` may be given a tracking
    /// number at all: it holds or held a lease, or it sent an event (a visit,
    /// a hit) at or after `sinceMs`, as the writer saw since it started. A
    /// made-up session id is neither (`GET /v1/lease` on the public intake
    /// refuses it).
    /// With call matching off the writer keeps no leases and notes no
    /// activity, so every session counts as active (leases were as before).
    public func sessionIsActive(site: UInt32, session: String, sinceMs: Int64) throws -> Bool {
        guard configuration.callMatching else { return true }
        let identifier = NormalizedIdentifier(uncheckedKind: .session, value: session)
        guard let node = try environment.read({ txn in try identNode(site: site, identifier: identifier, txn) }) else {
            return false
        }
        if leasedSessions.withLock({ $0.contains(node) }) { return true }
        return (unleasedActivity.withLock { $0.latest(session: node) } ?? .min) >= sinceMs
    }
}
