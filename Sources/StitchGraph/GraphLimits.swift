/// Every fixed bound of the identity graph, in one place (STYLE.md: limits
/// on everything). Each one caps the work or memory of one read or write so
/// that a huge person costs a clear error or a truncated answer, never an
/// unbounded transaction. Configurable bounds (per-kind caps, a person's
/// identifier limit) live in `Guards`.
public enum GraphLimits {
    /// History page size when the client asks for none.
    public static let historyEventsDefault = 100
    /// Largest history page; larger limits are clamped to it.
    public static let historyEventsMax = 1000
    /// Most events read to annotate one history page's conversions; a person
    /// with more in the window is judged on the latest of them.
    public static let conversionContextEventsMax = 20_000
    /// Most events read to explain one person; larger persons are refused.
    public static let explainEventsMax = 200_000
    /// Most conflict records scanned (newest first) to say which guard
    /// refused a link, when the refusal is not next to its cause.
    public static let explainConflictsScannedMax = 100_000
    /// Most merge records one `merges since` page scans when it filters by
    /// site; the page's cursor still moves past them.
    public static let mergesScannedMax = 50_000
    /// Most dynamic numbers in one pool (`lease` scans them).
    public static let poolDynamicNumbersMax = 10_000
    /// Leases that started longer than this before a call are not scanned
    /// for it: a session kept alive for a whole day is not one visit.
    public static let leaseScanMs: Int64 = 24 * 3600 * 1000
    /// LMDB's key size limit; identifier keys over it are refused.
    public static let keyBytesMax = 511
    /// Expired event ids one commit forgets at least, if there are that
    /// many (twice the batch's beacons when that is more): bounded work per
    /// commit that still outpaces what the batch can add.
    public static let dedupPrunedPerCommitMin = 4_096
    /// Verification violations beyond this many are counted, not listed.
    public static let violationsListedMax = 100
}

extension GraphLimits {
    /// Most identifiers of a person re-derived in one repair; a larger person
    /// is refused with `GraphError.personTooLarge` (the guards keep persons
    /// at 10,000 by default).
    public static let repairIdentifiersMax = 100_000
    /// Most events of a person read by one repair.
    public static let repairEventsMax = 2_000_000
    /// Most bytes of a quarantine's reason.
    public static let quarantineReasonBytesMax = 200
    /// Most quarantined identifiers one `shared` answer lists.
    public static let sharedListedMax = 10_000
    /// How long before a shared device's first counted link its sharing is
    /// taken to have begun: the visit that made the link started up to this
    /// long before it. Events of the device before then are its first
    /// owner's (`QuarantineRecord.ownerBeforeMs`).
    public static let sharedDeviceVisitMs: Int64 = 30 * 60 * 1000
    /// Most persons one junk declaration repairs in one transaction.
    public static let junkRepairsMax = 10_000
}
