import StitchIdentity

extension IdentityGraph {
    /// Whether `session` (normalized) of `site` may be given a tracking
    /// number at all: it holds or held a lease, or its node was last seen
    /// (an event anchored at it, or activity noted while it held no lease)
    /// at or after `sinceMs`. A made-up session id is neither (`GET
    /// /v1/lease` on the public intake refuses it). The activity is the
    /// node's `lastSeenMs`, in the store: the same after a restart and on
    /// every replica.
    /// With call matching off the writer keeps no leases and notes no
    /// activity, so every session counts as active (leases were as before).
    public func sessionIsActive(site: UInt32, session: String, sinceMs: Int64) throws -> Bool {
        guard configuration.callMatching else { return true }
        let identifier = NormalizedIdentifier(uncheckedKind: .session, value: session)
        return try environment.read { txn in
            guard let node = try identNode(site: site, identifier: identifier, txn) else { return false }
            if leasedSessions.withLock({ $0.contains(node) }) { return true }
            return try lastSeenMs(of: node, nodeRecord(node, txn), indexOverlay(txn)) >= sinceMs
        }
    }
}
