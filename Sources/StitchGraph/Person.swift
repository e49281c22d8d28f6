import StitchIdentity

/// A person: a connected component of identifiers, summed over its members.
public struct Person: Sendable, Equatable {
    /// The component's root node id; stable across merges (the older survives).
    public var personID: UInt64
    public var site: UInt32
    /// Identifiers in the person (the component's size).
    public var identifierCount: UInt64
    /// Earliest and latest event or identifier time over the members.
    public var firstSeenMs: Int64
    public var lastSeenMs: Int64
    /// Events anchored at the person, by type; types without events are absent.
    public var eventCounts: [EventType: UInt64]
    /// Every identifier, sorted by (kind, value); empty unless asked for.
    public var identifiers: [PersonIdentifier]

    /// Events of every type.
    public var eventCount: UInt64 { eventCounts.values.reduce(0, +) }
}

/// One identifier of a person, with when the graph first saw it and when an
/// event was last stored under it.
public struct PersonIdentifier: Sendable, Hashable {
    public var identifier: NormalizedIdentifier
    public var firstSeenMs: Int64
    /// The latest event stored under it (its node's `lastSeenMs`: events are
    /// anchored at their newest identifier, usually the visit's session), or
    /// its first seen. A returning visitor's cookie is not rewritten by each
    /// of its events: that would dirty a random page per event.
    public var lastSeenMs: Int64
    /// It links nothing: a person of its own (quarantine), kept so its
    /// history and the reason stay readable.
    public var quarantined: Bool

    public init(identifier: NormalizedIdentifier, firstSeenMs: Int64, lastSeenMs: Int64? = nil, quarantined: Bool = false) {
        self.identifier = identifier
        self.firstSeenMs = firstSeenMs
        self.lastSeenMs = lastSeenMs ?? firstSeenMs
        self.quarantined = quarantined
    }
}

extension PersonIdentifier {
    /// A member as its node records it.
    init(_ record: NodeRecord) {
        self.init(
            identifier: record.identifier, firstSeenMs: record.firstSeenMs, lastSeenMs: record.lastSeenMs,
            quarantined: record.isQuarantined)
    }
}
