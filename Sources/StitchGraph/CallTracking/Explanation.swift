import StitchIdentity

/// Why two identifiers are, or are not, one person (`IdentityGraph.explain`).
public struct Explanation: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        /// One person; `steps` is a shortest chain from a to b.
        case linked
        /// Two persons, and no event ever tried to link them.
        case notLinked
        /// An event tried to link them and a guard refused, or one of them
        /// is quarantined: `refusal`.
        case refused
        /// a or b was never seen.
        case unknown
    }

    /// One link of the chain: `from` and `to` were linked by event `eventSeq`.
    public struct Step: Sendable, Equatable {
        public var from: PersonIdentifier
        public var to: PersonIdentifier
        public var eventSeq: UInt64
        public var eventType: EventType
        public var timeMs: Int64
        /// How the event linked them ("same event", "call matched by the lease of …").
        public var via: String
    }

    /// The event whose link a guard refused, and the guard; or a quarantine
    /// (the event that tipped the automatic rule, 0 for a request; since when).
    public struct Refusal: Sendable, Equatable {
        public var eventSeq: UInt64
        public var timeMs: Int64
        /// The guard's reason code (`phones_max`, …), "unrecorded", or
        /// "quarantined (source: reason)".
        public var reason: String
    }

    public var verdict: Verdict
    /// The persons a and b belong to (0 when unknown).
    public var personA: UInt64 = 0
    public var personB: UInt64 = 0
    public var steps: [Step] = []
    public var refusal: Refusal?
}
