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
    /// fallback.
    mutating func lease(session: String, nowMs: Int64) -> LeaseGrant {
        guard !numbers.isEmpty else { return LeaseGrant(kind: .noPool, number: nil, heldUntilMs: 0) }
        let until = nowMs + pool.holdMs
        if let index = indexOfHolder[session], numbers[index].holder == session, numbers[index].heldUntilMs >= nowMs {
            numbers[index].heldUntilMs = max(numbers[index].heldUntilMs, until)
            return LeaseGrant(kind: .sticky, number: numbers[index].number, heldUntilMs: numbers[index].heldUntilMs)
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
        return LeaseGrant(kind: .new, number: numbers[index].number, heldUntilMs: until)
    }

    /// The graph saw `session` active on `number` (or shown it): the number is
    /// held until `untilMs` at least.
    mutating func noteActivity(session: String, number: String, untilMs: Int64) {
        guard let index = indexOfNumber[number], untilMs > numbers[index].heldUntilMs else { return }
        assign(index, to: session, until: untilMs)
    }

    /// Dynamic numbers held at `nowMs`.
    func heldCount(nowMs: Int64) -> Int {
        numbers.count { $0.heldUntilMs >= nowMs }
    }

    private mutating func assign(_ index: Int, to session: String, until: Int64) {
        if let previous = numbers[index].holder, indexOfHolder[previous] == index {
            indexOfHolder[previous] = nil
        }
        numbers[index].holder = session
        numbers[index].heldUntilMs = until
        indexOfHolder[session] = index
    }
}

/// The answer to a lease request.
public struct LeaseGrant: Sendable, Equatable {
    /// Raw values are the `kind` label of `stitch_leases_total`.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case sticky, new, fallback, noPool = "no_pool"
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
