import StitchIdentity

/// One stored event as the graph returns it: what it named and its body as
/// given to `apply`, which the graph never interprets.
public struct EventRecord: Sendable, Equatable {
    /// The event's place in the append-only log (assigned at apply, from 1).
    public var seq: UInt64
    public var type: EventType
    /// Event time (the sender's clock).
    public var timeMs: Int64
    /// The server's time of arrival.
    public var receivedMs: Int64
    /// The normalized identifiers the event carried (explicit and derived).
    public var identifiers: [NormalizedIdentifier]
    /// The body as given in `PreparedEvent.body`.
    public var body: [UInt8]
    /// How call tracking placed a call; `nil` for other events and calls
    /// without a tracking number.
    public var callMatch: CallMatch?
}
