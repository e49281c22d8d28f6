/// Hands out one site's dynamic numbers to sessions (the `lease` request).
///
/// It owns no durable state: it remembers what it granted and learns from the
/// writer when sessions are active on a number (`noteActivity`), so a restart
/// rebuilds it from the graph's lease table. Times are the server's clock in
/// Unix ms, passed in.
struct LeaseAllocator: Sendable {
    struct NumberState: Sendable, Equatable {
        let number: String
        /// The session holding the number, if any ever did.
        var holder: String?
        /// The number is held until then; it was released then if in the past
        /// (0: never held).
        var heldUntilMs: Int64 = 0
        /// The holder's last activity (a lease request or an event) plus the
        /// hold. Renewals from an open page extend `heldUntilMs` only, so a
        /// page left open is capped from its last activity.
        var activeUntilMs: Int64 = 0
        /// The client address that asked for it, when the public intake did
        /// (for the per-address bound); nil when unknown.
        var address: String?
    }

    private(set) var numbers: [NumberState]
    private var indexOfNumber: [String: Int] = [:]
    private var indexOfHolder: [String: Int] = [:]
    let pool: NumberPool

    init(pool: NumberPool) {
        self.pool = pool
        numbers = pool.dynamicNumbers.map { NumberState(number: $0) }
        for (index, state) in numbers.enumerated() { indexOfNumber[state.number] = index }
    }

    /// The number `session` should show at `nowMs`: the one it holds while its
    /// lease lives, else the least recently released free one, else the
    /// fallback. A client `address` already holding `addressMax` numbers (0:
    /// no bound) gets no new one: the fallback, kind `addressLimit`.
    mutating func lease(session: String, nowMs: Int64, address: String? = nil, addressMax: Int = 0) -> LeaseGrant {
        guard !numbers.isEmpty else { return LeaseGrant(kind: .noPool, number: nil, heldUntilMs: 0) }
        let until = nowMs + pool.holdMs
        if let index = heldIndex(session: session, nowMs: nowMs) {
            numbers[index].heldUntilMs = max(numbers[index].heldUntilMs, until)
            numbers[index].activeUntilMs = max(numbers[index].activeUntilMs, until)
            return LeaseGrant(kind: .sticky, number: numbers[index].number, heldUntilMs: numbers[index].heldUntilMs)
        }
        if let address, addressMax > 0,
            numbers.count(where: { $0.address == address && $0.heldUntilMs >= nowMs }) >= addressMax
        {
            return LeaseGrant(kind: .addressLimit, number: pool.fallbackNumber, heldUntilMs: 0)
        }
        // Pools are small (hundreds of numbers): a scan is cheaper to keep
        // right than a heap kept in step with activity from the writer.
        var best: Int?
        for index in numbers.indices where numbers[index].heldUntilMs < nowMs {
            if best == nil || numbers[index].heldUntilMs < numbers[best!].heldUntilMs { best = index }
        }
        guard let index = best else {
            return LeaseGrant(kind: .fallback, number: pool.fallbackNumber, heldUntilMs: 0)
        }
        assign(index, to: session, until: until)
        numbers[index].address = address
        return LeaseGrant(kind: .new, number: numbers[index].number, heldUntilMs: until)
    }

    /// A page still showing the number `session` holds keeps it: the hold
    /// runs from `nowMs` again, unless the number has lapsed (the holder may
    /// ask for a lease again) or the holder has been idle longer than
    /// `renewalMaxMs` (a tab left open does not hold a number forever).
    mutating func renew(session: String, nowMs: Int64, renewalMaxMs: Int64) -> LeaseGrant {
        guard let index = heldIndex(session: session, nowMs: nowMs) else {
            return LeaseGrant(kind: .lapsed, number: nil, heldUntilMs: 0)
        }
        let lastActivityMs = numbers[index].activeUntilMs - pool.holdMs
        guard nowMs - lastActivityMs <= renewalMaxMs else {
            return LeaseGrant(kind: .capped, number: numbers[index].number, heldUntilMs: numbers[index].heldUntilMs)
        }
        numbers[index].heldUntilMs = max(numbers[index].heldUntilMs, nowMs + pool.holdMs)
        return LeaseGrant(kind: .renewed, number: numbers[index].number, heldUntilMs: numbers[index].heldUntilMs)
    }

    /// The graph saw `session` active on `number` (or shown it): the number is
    /// held until `untilMs` at least. A `renewal` holds it for its holder
    /// only and is not activity.
    mutating func noteActivity(session: String, number: String, untilMs: Int64, renewal: Bool = false) {
        guard let index = indexOfNumber[number] else { return }
        if numbers[index].holder == session {
            numbers[index].heldUntilMs = max(numbers[index].heldUntilMs, untilMs)
            if !renewal { numbers[index].activeUntilMs = max(numbers[index].activeUntilMs, untilMs) }
        } else if !renewal, untilMs > numbers[index].heldUntilMs {
            assign(index, to: session, until: untilMs)
        }
    }

    /// Dynamic numbers held at `nowMs`.
    func heldCount(nowMs: Int64) -> Int {
        numbers.count { $0.heldUntilMs >= nowMs }
    }

    /// The pool at `nowMs`: numbers held by recent activity, held only by
    /// an open page's renewals, and free.
    func pressure(nowMs: Int64) -> LeasePressure {
        var pressure = LeasePressure()
        var byAddress: [String: Int] = [:]
        for state in numbers where state.heldUntilMs >= nowMs {
            if let address = state.address { byAddress[address, default: 0] += 1 }
        }
        pressure.heldByTopAddresses = byAddress.values.sorted(by: >).prefix(LeasePressure.topAddresses).reduce(0, +)
        for state in numbers {
            if state.activeUntilMs >= nowMs {
                pressure.active += 1
            } else if state.heldUntilMs >= nowMs {
                pressure.openPage += 1
            } else {
                pressure.free += 1
            }
        }
        return pressure
    }

    /// The number `session` holds at `nowMs`, if any.
    private func heldIndex(session: String, nowMs: Int64) -> Int? {
        guard let index = indexOfHolder[session], numbers[index].holder == session, numbers[index].heldUntilMs >= nowMs
        else { return nil }
        return index
    }

    private mutating func assign(_ index: Int, to session: String, until: Int64) {
        if let previous = numbers[index].holder, indexOfHolder[previous] == index {
            indexOfHolder[previous] = nil
        }
        numbers[index].holder = session
        numbers[index].heldUntilMs = until
        numbers[index].activeUntilMs = until
        numbers[index].address = nil
        indexOfHolder[session] = index
    }
}

/// The answer to a lease request.
public struct LeaseGrant: Sendable, Equatable {
    /// Raw values are the `kind` label of `stitch_leases_total`.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case sticky, new, fallback, noPool = "no_pool"
        /// Renewals by an open page: the hold runs from now again.
        case renewed
        /// A renewal refused: the holder has been idle past the renewal cap;
        /// the number is released when its hold ends.
        case capped
        /// A renewal refused: the session holds no number (it lapsed, or
        /// another session holds it now); ask for a lease again.
        case lapsed
        /// Refused, the fallback shown: the public intake's caller is a
        /// crawler (`CrawlerRules`).
        case crawler
        /// Refused, the fallback shown: the public intake has seen no recent
        /// event of this session (a made-up id).
        case unknownSession = "unknown_session"
        /// Refused, the fallback shown: the caller's address holds
        /// `lease_numbers_per_address_max` numbers already.
        case addressLimit = "address_limit"
    }

    public var kind: Kind
    /// The number to show; `nil` without a pool, or when exhausted without a fallback.
    public var number: String?
    /// Held for the session until then (0 for fallback and no pool).
    public var heldUntilMs: Int64

    public init(kind: Kind, number: String?, heldUntilMs: Int64) {
        self.kind = kind
        self.number = number
        self.heldUntilMs = heldUntilMs
    }
}

/// How a site's dynamic numbers are used at one moment (`stitch_lease_numbers`).
public struct LeasePressure: Sendable, Equatable {
    /// Held through the holder's recent activity (page views, events).
    public var active = 0
    /// Held only because an open page keeps renewing it.
    public var openPage = 0
    /// Free to be leased.
    public var free = 0
    /// Held numbers whose leases the `topAddresses` client addresses that
    /// hold the most asked for: a pool held mostly by a few addresses is
    /// being drained.
    public var heldByTopAddresses = 0
    public static let topAddresses = 3

    public init(active: Int = 0, openPage: Int = 0, free: Int = 0, heldByTopAddresses: Int = 0) {
        self.active = active
        self.openPage = openPage
        self.free = free
        self.heldByTopAddresses = heldByTopAddresses
    }
}
