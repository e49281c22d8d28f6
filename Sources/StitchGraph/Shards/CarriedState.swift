import StitchIdentity

/// What an export of events does not hold, yet a store moved to another shard
/// layout must keep (`stitch carry`, run by `ops/reshard.sh`): the operator's
/// quarantines, the identifiers released from a quarantine (the automatic
/// rule leaves them alone), and the erasure suppression list with its
/// erasure records.
///
/// Read from each shard of the old store and set on the new store before its
/// events are imported, so every event arrives to the state the old store
/// was in: a quarantined identifier links nothing, a released one is exempt
/// from the rule, an erased one is refused. Quarantines by the automatic rule
/// and declared junk are not carried: replaying the events and the
/// configuration makes them again, naming events of the new store.
public struct CarriedState: Sendable {
    /// A manual quarantine, with the operator's reason and time.
    public struct Quarantine: Sendable, Hashable {
        public var site: UInt32
        public var identifier: NormalizedIdentifier
        public var record: QuarantineRecord
    }

    /// One entry of the suppression list: the keyed hash of an erased
    /// identifier, under one of `secrets`.
    public struct Suppression: Sendable, Hashable {
        /// The erased person's site, from its erasure record; nil when the
        /// record is missing (the entry then goes to every shard).
        public var site: UInt32?
        public var hash: [UInt8]
        /// The erasure that listed it (a seq of the store read).
        public var erasure: UInt64
    }

    public var quarantines: [Quarantine] = []
    public var released: [(site: UInt32, identifier: NormalizedIdentifier)] = []
    public var erasures: [ErasureRecord] = []
    public var suppressions: [Suppression] = []
    /// Every secret the store read hashed under: its own and those it carried.
    public var secrets: [[UInt8]] = []

    public init() {}

    public var isEmpty: Bool { quarantines.isEmpty && released.isEmpty && erasures.isEmpty && suppressions.isEmpty }
}

/// What `IdentityGraph.adopt` set on one shard.
public struct CarryReport: Sendable, Equatable {
    public var quarantines = 0
    public var released = 0
    public var erasures = 0
    public var suppressions = 0

    public init() {}

    public static func + (a: CarryReport, b: CarryReport) -> CarryReport {
        var sum = a
        sum.quarantines += b.quarantines
        sum.released += b.released
        sum.erasures += b.erasures
        sum.suppressions += b.suppressions
        return sum
    }
}
