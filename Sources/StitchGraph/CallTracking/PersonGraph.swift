import StitchIdentity

/// A person drawn as a graph (`IdentityGraph.personGraph`): its identifiers
/// are the nodes, each event that carries two or more of them is a link, and
/// each event that carries an identifier of another person is a refused link
/// with the guard (or quarantine) that kept the two apart.
///
/// Large persons come a page of identifiers at a time: links and refusals
/// are those touching the page.
public struct PersonGraph: Sendable, Equatable {
    /// The events linking one set of identifiers of the page (indexes into
    /// `identifiers`), named by the first of them.
    public struct Link: Sendable, Equatable {
        public var eventSeq: UInt64
        public var eventType: EventType
        public var timeMs: Int64
        /// How the event linked them ("same event", "call matched by the lease of …").
        public var via: String
        public var nodes: [Int]
        /// Events linking exactly these identifiers (a visitor's page views
        /// all link its cookie and session: one link, many events).
        public var events: Int
    }

    /// An event of this person that carried an identifier now in another
    /// person: the link it would have made, and why it was not made.
    public struct Refusal: Sendable, Equatable {
        public var eventSeq: UInt64
        public var eventType: EventType
        public var timeMs: Int64
        /// The page's identifiers the event carried (indexes into `identifiers`).
        public var nodes: [Int]
        /// The identifier of the other person, and that person (0 when it
        /// was erased since).
        public var other: PersonIdentifier
        public var otherPersonID: UInt64
        /// The guard's reason code (`cap_phone`, …), "quarantined (source:
        /// reason)", or "unrecorded".
        public var reason: String
        /// This person's events that carried the other identifier (the
        /// refusal names the first).
        public var events: Int
    }

    public var personID: UInt64
    /// Every identifier of the person, though `identifiers` holds one page.
    public var identifierCount: Int
    /// The page's first identifier's position in the person's identifiers,
    /// sorted by (kind, value).
    public var identifiersOffset: Int
    public var identifiers: [PersonIdentifier]
    public var links: [Link]
    public var refusals: [Refusal]
    /// Links (sets of identifiers) touching the page left out past the limit.
    public var linksOmitted: Int
}
