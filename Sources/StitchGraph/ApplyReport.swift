import StitchIdentity
import StitchStore

/// What one `apply` did, for metrics and logs.
public struct ApplyReport: Sendable, Equatable {
    /// What the commit cost the store: pages written, time writing and
    /// syncing them (in a transaction of several segments, on the last one's report).
    public var commitCost = CommitCost()
    /// Events stored (every event given except repeats, even when some of
    /// its identifiers were refused or its unions refused).
    public var events = 0
    /// Sequence numbers of the stored events, in beacon order.
    public var eventSeqs: [UInt64] = []
    /// Positions (in the events given) of events recognised as repeats of
    /// stored ones by their event id: not stored again.
    public var repeats: [Int] = []
    /// Positions of events not stored because they carry an erased identifier.
    public var suppressed: [Int] = []
    /// Identifiers the shared-identifier rule quarantined in this batch.
    public var quarantined = 0
    /// Persons split by those quarantines (parts beyond the first).
    public var splits = 0
    /// Hubs the rule found in persons too large to repair in the batch's
    /// transaction (see `GraphLimits.repairIdentifiersMax`): left linked.
    public var quarantinesRefused = 0
    /// Events whose id was remembered once but had left the window (its
    /// entry not pruned yet): stored as new, like an id never seen.
    public var dedupExpiredReplaced = 0
    /// Index entries deferred to the write-behind (`IndexOverlay`).
    public var indexDeferred = 0
    /// Deferred index entries written to the index by this commit.
    public var indexWrittenBehind = 0
    /// Remembered event ids forgotten because they left the window.
    public var dedupPruned = 0
    /// Events stored with no valid identifier.
    public var unlinkedEvents = 0
    /// Identifier values refused by normalization, by rejection code.
    public var identifiersRejected: [String: Int] = [:]
    /// New identifiers (nodes) created.
    public var identifiersCreated = 0
    /// Persons merged into older ones.
    public var merges = 0
    /// Unions refused by the guards, by reason.
    public var conflicts: [String: Int] = [:]
    /// Calls to dynamic numbers matched to a session when they arrived.
    public var callsMatched = 0
    /// Calls no lease covered (yet): recorded as unknown traffic, waiting.
    public var callsUnmatched = 0
    /// Waiting calls matched by a late `number_shown` or hit in this batch.
    public var callsMatchedLate = 0
    /// Lease renewals by open pages applied (they store no event).
    public var leasesRenewed = 0
    /// Sessions seen active on tracking numbers, for the lease allocators.
    public var leaseActivity: [LeaseActivity] = []

    public init() {}
}
