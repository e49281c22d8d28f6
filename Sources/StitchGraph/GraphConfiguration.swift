import StitchIdentity

/// The rules one site's identifiers are judged by.
public struct SiteRules: Hashable, Sendable {
    /// Junk values (placeholders, the site's own phone numbers).
    public var junk: JunkRules
    /// Caps on what one person may hold.
    public var guards: Guards
    /// When a phone or e-mail is quarantined as shared by unrelated visitors.
    public var hub: HubRule
    /// When a device (tracker cookie, GA or Yandex client id) is quarantined
    /// as shared: a kiosk, an office PC (see `HubRule`).
    public var device: HubRule

    public init(junk: JunkRules = .standard, guards: Guards = .standard, hub: HubRule = .standard, device: HubRule = .devices) {
        self.junk = junk
        self.guards = guards
        self.hub = hub
        self.device = device
    }
}

/// Rules for every site: a default, and overrides per site.
public struct GraphConfiguration: Sendable {
    /// Rules for every site without its own entry in `sites`.
    public var defaultRules: SiteRules
    /// Rules of individual sites.
    public var sites: [UInt32: SiteRules]
    /// Keep leases and match calls to sessions (DESIGN.md §5). Off, calls
    /// link by the caller's phone only; there to measure what matching costs.
    public var callMatching: Bool
    /// How long (in event time) an event id is remembered, so that a resent
    /// beacon is stored once (see `BatchWriter+Dedup`).
    public var dedupWindowMs: Int64
    /// The write-behind of the event index (`IndexOverlay`): a generation of
    /// deferred index entries freezes, and starts being written out, at
    /// this many entries. 0 writes every entry in its own commit.
    public var indexWriteBehindEvents: Int

    /// Seven days: longer than any client retries a batch.
    public static let dedupWindowMsDefault: Int64 = 7 * 86_400_000
    /// About three seconds of a shard's share of 64,000 beacons/s.
    public static let indexWriteBehindEventsDefault = 100_000

    public init(
        defaultRules: SiteRules = SiteRules(), sites: [UInt32: SiteRules] = [:], callMatching: Bool = true,
        dedupWindowMs: Int64 = dedupWindowMsDefault, indexWriteBehindEvents: Int = indexWriteBehindEventsDefault
    ) {
        precondition(dedupWindowMs > 0, "the dedup window must be positive")
        precondition(indexWriteBehindEvents >= 0, "the write-behind's generation cannot be negative")
        self.indexWriteBehindEvents = indexWriteBehindEvents
        self.defaultRules = defaultRules
        self.sites = sites
        self.callMatching = callMatching
        self.dedupWindowMs = dedupWindowMs
    }

    /// The rules `site` is judged by.
    public func rules(for site: UInt32) -> SiteRules {
        sites[site] ?? defaultRules
    }
}
