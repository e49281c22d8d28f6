import StitchStore

/// An open page still shows its session's tracking number (the tracker's
/// renewal, `GET /v1/lease?renew=1`): the writer extends the session's stored
/// lease to `timeMs + hold`, so matching a later call by time agrees with what
/// the visitor saw. It stores no event and creates no identifier.
public struct LeaseRenewal: Sendable, Equatable {
    public var site: UInt32
    /// The normalized session id.
    public var session: String
    /// When the page renewed, by the server's clock.
    public var timeMs: Int64

    public init(site: UInt32, session: String, timeMs: Int64) {
        self.site = site
        self.session = session
        self.timeMs = timeMs
    }
}

extension BatchWriter {
    /// Extends the lease of a session that holds one; a session the graph
    /// does not know, or that holds no lease, is left alone. The allocator
    /// granted the renewal already, so it is not told again (that would count
    /// as the holder's activity and defeat the renewal cap).
    mutating func renew(_ renewal: LeaseRenewal, _ txn: borrowing Transaction) throws {
        var key: [UInt8] = []
        StoreKeys.identKey(site: renewal.site, kind: .session, value: renewal.session.utf8, into: &key)
        guard let stored = try txn.get(graph.tables.ident, key) else { return }
        let session = ByteCoding.littleEndian(stored, at: 0, as: UInt64.self)
        try refreshLease(session: session, site: renewal.site, timeMs: renewal.timeMs, notifyAllocator: false, txn)
    }
}
