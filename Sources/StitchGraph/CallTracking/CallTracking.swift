import StitchIdentity
import Synchronization

/// The call-tracking state shared by the collector, the writer and the
/// query server (DESIGN.md §5): each site's number pool and its lease
/// allocator. Pools change at run time (`setPool`, the admin request), so
/// this is a locked reference, not part of the immutable `GraphConfiguration`.
///
/// Leases themselves — which session held which number when, by event
/// time — are durable graph data written by the writer; the allocator here
/// only decides which number to show next.
public final class CallTracking: Sendable {
    private struct State {
        var pools: [UInt32: NumberPool] = [:]
        var allocators: [UInt32: LeaseAllocator] = [:]
    }

    private let state: Mutex<State>
    private let generationCounter = Atomic<UInt64>(0)
    /// How long an open page may keep renewing its number after the
    /// holder's last activity (`lease_renewal_max_seconds`).
    public let renewalMaxMs: Int64

    /// Renewals stop after two hours of one idle page by default.
    public static let renewalMaxMsDefault: Int64 = 2 * 3_600_000

    /// Starts with `pools` (site → pool).
    public init(pools: [UInt32: NumberPool] = [:], renewalMaxMs: Int64 = renewalMaxMsDefault) {
        self.renewalMaxMs = renewalMaxMs
        var initial = State()
        for (site, pool) in pools {
            initial.pools[site] = pool
            initial.allocators[site] = LeaseAllocator(pool: pool)
        }
        state = Mutex(initial)
    }

    /// Bumped by every `setPool`, so holders of derived data (normalizers
    /// with the office numbers as junk) know to rebuild it.
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// The site's pool; sites without one get an empty pool (default hold).
    public func pool(site: UInt32) -> NumberPool {
        state.withLock { $0.pools[site] ?? NumberPool() }
    }

    /// Every configured pool.
    public var pools: [UInt32: NumberPool] {
        state.withLock { $0.pools }
    }

    /// Replaces the site's pool (an empty wire pool removes it). Sessions
    /// keep numbers that stay in the pool.
    public func setPool(site: UInt32, _ pool: NumberPool?) {
        state.withLock { state in
            let old = state.allocators[site]
            if let pool {
                var allocator = LeaseAllocator(pool: pool)
                for held in old?.numbers ?? [] {
                    if let holder = held.holder {
                        allocator.noteActivity(session: holder, number: held.number, untilMs: held.heldUntilMs)
                    }
                }
                state.pools[site] = pool
                state.allocators[site] = allocator
            } else {
                state.pools[site] = nil
                state.allocators[site] = nil
            }
        }
        generationCounter.add(1, ordering: .releasing)
    }

    /// Which number `session` (a normalized session id) should be shown;
    /// see `LeaseAllocator.lease` for the per-address bound.
    public func lease(site: UInt32, session: String, nowMs: Int64, address: String? = nil, addressMax: Int = 0) -> LeaseGrant {
        state.withLock { state in
            guard var allocator = state.allocators[site] else {
                return LeaseGrant(kind: .noPool, number: nil, heldUntilMs: 0)
            }
            let grant = allocator.lease(session: session, nowMs: nowMs, address: address, addressMax: addressMax)
            state.allocators[site] = allocator
            return grant
        }
    }

    /// An open page of `session` still shows its number: see `LeaseAllocator.renew`.
    public func renew(site: UInt32, session: String, nowMs: Int64) -> LeaseGrant {
        state.withLock { state in
            guard var allocator = state.allocators[site] else {
                return LeaseGrant(kind: .noPool, number: nil, heldUntilMs: 0)
            }
            let grant = allocator.renew(session: session, nowMs: nowMs, renewalMaxMs: renewalMaxMs)
            state.allocators[site] = allocator
            return grant
        }
    }

    /// Each pool's use at `nowMs`, by site.
    public func pressure(nowMs: Int64) -> [UInt32: LeasePressure] {
        state.withLock { $0.allocators.mapValues { $0.pressure(nowMs: nowMs) } }
    }

    /// Tells the allocators what the writer saw: sessions active on numbers.
    public func noteActivity(_ notes: [LeaseActivity]) {
        guard !notes.isEmpty else { return }
        state.withLock { state in
            for note in notes {
                state.allocators[note.site]?.noteActivity(
                    session: note.session, number: note.number, untilMs: note.heldUntilMs, renewal: note.renewal)
            }
        }
    }

    /// Dynamic numbers of `site` held at `nowMs`.
    public func heldCount(site: UInt32, nowMs: Int64) -> Int {
        state.withLock { $0.allocators[site]?.heldCount(nowMs: nowMs) ?? 0 }
    }
}

/// A session active on a tracking number, as the writer saw it.
public struct LeaseActivity: Sendable, Equatable {
    public var site: UInt32
    public var number: String
    /// The normalized session id.
    public var session: String
    /// Last activity + hold, event time.
    public var heldUntilMs: Int64
    /// An open page's renewal, not the holder's activity: it holds the
    /// number for its holder but takes it from nobody, and does not restart
    /// the renewal cap.
    public var renewal: Bool

    public init(site: UInt32, number: String, session: String, heldUntilMs: Int64, renewal: Bool = false) {
        self.site = site
        self.number = number
        self.session = session
        self.heldUntilMs = heldUntilMs
        self.renewal = renewal
    }
}

extension IdentityGraph {
    /// Every session node in the `lease` table.
    func leaseHolders() throws -> Set<UInt64> {
        try environment.read { txn in
            var holders: Set<UInt64> = []
            try txn.scan(tables.lease) { key, _ in
                holders.insert(ByteCoding.bigEndian(key, at: 0, as: UInt64.self))
                return true
            }
            return holders
        }
    }

    /// Leases that still hold at `nowMs` (event time), so a restarted server's
    /// allocators know which numbers are taken. Scans the `lease` table.
    public func leaseActivity(heldAt nowMs: Int64) throws -> [LeaseActivity] {
        try environment.read { txn in
            var result: [LeaseActivity] = []
            try txn.scan(tables.lease) { key, value in
                let lease = LeaseRecord(decoding: value)
                if lease.endMs >= nowMs {
                    let session = try nodeRecord(ByteCoding.bigEndian(key, at: 0, as: UInt64.self), txn)
                    result.append(LeaseActivity(
                        site: lease.site, number: lease.number,
                        session: String(decoding: session.value, as: UTF8.self), heldUntilMs: lease.endMs))
                }
                return true
            }
            return result
        }
    }
}
