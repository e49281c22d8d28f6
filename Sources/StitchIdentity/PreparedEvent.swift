/// An event made ready for the identity graph: what it names (normalized
/// identifiers), when, of which type, and the call-tracking facts the writer
/// needs. The body is opaque bytes to the graph: it stores them and hands them
/// back, so the graph knows nothing of the wire format.
///
/// Preparing needs no transaction, so the server does it on its event loops
/// (`StitchBeacon.EventPreparer`) and leaves the single writer graph work only.
public struct PreparedEvent: Sendable {
    public let site: UInt32
    /// The sender's id of this event, unique within the site; 0 = none. The
    /// graph stores an event with an id once (see `GraphConfiguration.dedupWindowMs`).
    public let eventID: UInt64
    /// Event time (the sender's clock).
    public let timeMs: Int64
    /// The server's time of arrival, stored with the event.
    public let receivedMs: Int64
    public let type: EventType
    /// Normalized, without repeats; every one is linked to the others.
    public let identifiers: [NormalizedIdentifier]
    /// Identifier values refused by normalization (counted, not stored).
    public let refused: [RefusedIdentifier]
    /// The encoded body, stored as given and returned by history reads.
    public let body: [UInt8]
    /// `number_shown` and calls: the tracking number in E.164.
    public let trackingNumber: String?
    /// Calls: when the call started (event time unless the call says otherwise).
    public let callStartMs: Int64
    /// Calls: the caller's phone's position in `identifiers` (absent when
    /// hidden or refused).
    public let callerPhoneIndex: Int?
    /// Position in `identifiers` of the session, which holds leases.
    public let sessionIndex: Int?
    /// Deals: `crm:deal_id`, normalized as a `crm_contact` value is — the
    /// deal's key in the graph's deal directory (`DealDirectory`); nil for
    /// other events and for a deal whose id cannot be normalized.
    public let dealKey: String?
    /// Deals: the position in `identifiers` of the deal's contact (named by
    /// the deal, or found in the deal directory by its id).
    public let dealContactIndex: Int?

    public init(
        site: UInt32, eventID: UInt64 = 0, timeMs: Int64, receivedMs: Int64, type: EventType,
        identifiers: [NormalizedIdentifier], refused: [RefusedIdentifier] = [], body: [UInt8], trackingNumber: String? = nil, callStartMs: Int64? = nil,
        callerPhoneIndex: Int? = nil, dealKey: String? = nil, dealContactIndex: Int? = nil
    ) {
        precondition(callerPhoneIndex.map { identifiers.indices.contains($0) } ?? true, "caller phone out of range")
        precondition(dealContactIndex.map { identifiers.indices.contains($0) } ?? true, "deal contact out of range")
        self.site = site
        self.eventID = eventID
        self.timeMs = timeMs
        self.receivedMs = receivedMs
        self.type = type
        self.identifiers = identifiers
        self.refused = refused
        self.body = body
        self.trackingNumber = trackingNumber
        self.callStartMs = callStartMs ?? timeMs
        self.callerPhoneIndex = callerPhoneIndex
        self.sessionIndex = identifiers.firstIndex { $0.kind == .session }
        self.dealKey = dealKey
        self.dealContactIndex = dealContactIndex
    }
}
