import StitchIdentity

/// Which events of a person `history` returns, and from where.
public struct HistoryQuery: Hashable, Sendable {
    /// Inclusive lower bound on event time.
    public var fromMs: Int64
    /// Exclusive upper bound on event time.
    public var toMs: Int64
    /// Event types to return; empty means all.
    public var types: Set<EventType>
    /// Most events in one page.
    public var limit: Int
    /// Where the previous page ended; `nil` starts at the beginning (or end).
    public var cursor: HistoryCursor?
    /// Return the latest events first.
    public var newestFirst: Bool
    /// When set, the page also returns the person's visits and conversions
    /// from this long before its earliest conversion up to its latest: what
    /// read-time attribution needs to annotate the page's conversions.
    public var conversionContextMs: Int64?

    public init(
        fromMs: Int64 = .min,
        toMs: Int64 = .max,
        types: Set<EventType> = [],
        limit: Int = GraphLimits.historyEventsDefault,
        cursor: HistoryCursor? = nil,
        newestFirst: Bool = false,
        conversionContextMs: Int64? = nil
    ) {
        self.fromMs = fromMs
        self.toMs = toMs
        self.types = types
        self.limit = min(max(limit, 1), GraphLimits.historyEventsMax)
        self.cursor = cursor
        self.newestFirst = newestFirst
        self.conversionContextMs = conversionContextMs
    }
}

/// A position in a person's history: the (time, seq) of the last event
/// returned. Events are totally ordered by (time, seq), so a page that
/// resumes from a cursor neither repeats nor skips an event, even when the
/// person merged with another between the two pages.
public struct HistoryCursor: Hashable, Sendable {
    /// Event time of the last event returned.
    public var timeMs: Int64
    public var seq: UInt64

    public init(timeMs: Int64, seq: UInt64) {
        self.timeMs = timeMs
        self.seq = seq
    }

    /// The 16-byte form sent to clients as `next_cursor`.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        ByteCoding.appendBigEndian(UInt64(bitPattern: timeMs), to: &bytes)
        ByteCoding.appendBigEndian(seq, to: &bytes)
        return bytes
    }

    /// Parses a client's cursor; `nil` if it is not one of ours.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        let (time, seq) = bytes.withUnsafeBytes {
            (ByteCoding.bigEndian($0, at: 0, as: UInt64.self), ByteCoding.bigEndian($0, at: 8, as: UInt64.self))
        }
        self.init(timeMs: Int64(bitPattern: time), seq: seq)
    }

    func precedes(_ other: HistoryCursor) -> Bool {
        (timeMs, seq) < (other.timeMs, other.seq)
    }
}

/// One page of a person's history.
public struct HistoryPage: Sendable {
    /// The person's current id (its root).
    public var personID: UInt64
    public var events: [EventRecord]
    /// With `conversionContextMs`: the visits and conversions around the
    /// page's conversions, in (time, seq) order; empty otherwise.
    public var context: [EventRecord]
    /// Where to resume; `nil` when the history has no more events.
    public var next: HistoryCursor?
}

