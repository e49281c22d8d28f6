import StitchIdentity
import StitchStore

/// An open page still shows its session's tracking number (the tracker's
/// renewal, `GET /v1/lease?renew=1`): the writer extends the session's stored
/// lease to `timeMs + hold`, so matching a later call by time agrees with what
/// the visitor saw. It stores no event.
public struct LeaseRenewal: Sendable, Equatable {
    public var site: UInt32
    /// The normalized session id.
    public var session: String
    /// When the page renewed: the server's clock for the tracker's
    /// `GET /v1/lease?renew=1`, the beacon's time for a `lease_renewal` beacon.
    public var timeMs: Int64
    /// The number the page shows (E.164); a lease of another number is not
    /// renewed. nil: whatever number the session holds.
    public var trackingNumber: String?

    public init(site: UInt32, session: String, timeMs: Int64, trackingNumber: String? = nil) {
        self.site = site
        self.session = session
        self.timeMs = timeMs
        self.trackingNumber = trackingNumber
    }
}

extension BatchWriter {
    /// Extends the session's lease as of the renewal. A renewal naming its
    /// number opens or widens the session's lease of that number, so one that
    /// arrives before the `number_shown` it follows — or before any event of
    /// its session (another connection's batch) — still counts: it creates
    /// the session's identifier if need be. One for a number the session has
    /// since left is ignored. A renewal naming no number extends whatever
    /// lease a known session holds. The allocator is told as of a renewal,
    /// which holds the number but is not the holder's activity (so the
    /// renewal cap counts from real activity).
    mutating func renew(_ renewal: LeaseRenewal, _ txn: borrowing Transaction) throws {
        let identifier = NormalizedIdentifier(uncheckedKind: .session, value: renewal.session)
        guard let number = renewal.trackingNumber else {
            var key: [UInt8] = []
            StoreKeys.identKey(site: renewal.site, kind: .session, value: renewal.session.utf8, into: &key)
            guard let stored = try txn.get(graph.tables.ident, key) else { return }
            let session = ByteCoding.littleEndian(stored, at: 0, as: UInt64.self)
            report.leasesRenewed += 1
            try refreshLease(session: session, site: renewal.site, timeMs: renewal.timeMs, renewal: true, txn)
            return
        }
        let session = try node(for: identifier, site: renewal.site, timeMs: renewal.timeMs, txn)
        report.leasesRenewed += 1
        if let current = try txn.get(graph.tables.lease, StoreKeys.nodeKey(session)).map(LeaseRecord.init(decoding:)),
            current.number != number, renewal.timeMs >= current.startMs
        {
            return  // shown another number since: this page's renewal is stale
        }
        try openLease(session: session, site: renewal.site, number: number, timeMs: renewal.timeMs, renewal: true, txn)
    }
}
