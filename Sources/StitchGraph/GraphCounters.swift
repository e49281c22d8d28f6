/// The graph's sequence numbers and totals, stored in `meta` under
/// "counters" and rewritten by every batch in the same transaction, so they
/// are always consistent with the tables.
///
/// Layout: ten 64-bit integers, little-endian, in the order of the properties.
struct GraphCounters: Equatable, Sendable {
    /// Next node id to assign; ids start at 1 (0 means "no node").
    var nextNode: UInt64 = 1
    var nextEvent: UInt64 = 1
    /// Next change-log seq (merges, splits, erasures).
    var nextChange: UInt64 = 1
    var nextConflict: UInt64 = 1
    /// Roots: one per person.
    var persons: UInt64 = 0
    var events: UInt64 = 0
    /// Events stored with no valid identifier (anchor 0).
    var unlinkedEvents: UInt64 = 0
    /// The dedup window's clock: the latest arrival (the server's receive
    /// time) of an event with an id; `.min` before the first. Schema 7 kept
    /// the latest event time here; the migration to 8 sets it to the latest
    /// arrival among the ids it rekeys.
    var arrivalClockMs: Int64 = .min
    var nextErasure: UInt64 = 1
    /// Identifier hashes in the suppression list; while 0 the writer skips
    /// hashing new identifiers.
    var suppressions: UInt64 = 0

    static let key = Array("counters".utf8)
    static let byteCount = 80

    /// Arrivals before this are outside a dedup window of `windowMs`
    /// (`.min` before the first event with an id).
    func dedupHorizonMs(windowMs: Int64) -> Int64 {
        arrivalClockMs == .min ? .min : arrivalClockMs &- windowMs
    }

    var identifiers: UInt64 { nextNode - 1 }
    var changes: UInt64 { nextChange - 1 }
    var conflicts: UInt64 { nextConflict - 1 }

    init() {}

    init(decoding bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "counters of \(bytes.count) bytes")
        func field(_ index: Int) -> UInt64 { ByteCoding.littleEndian(bytes, at: 8 * index, as: UInt64.self) }
        nextNode = field(0)
        nextEvent = field(1)
        nextChange = field(2)
        nextConflict = field(3)
        persons = field(4)
        events = field(5)
        unlinkedEvents = field(6)
        arrivalClockMs = Int64(bitPattern: field(7))
        nextErasure = field(8)
        suppressions = field(9)
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for value in [
            nextNode, nextEvent, nextChange, nextConflict, persons, events, unlinkedEvents, UInt64(bitPattern: arrivalClockMs),
            nextErasure, suppressions,
        ] {
            ByteCoding.appendLittleEndian(value, to: &bytes)
        }
        return bytes
    }
}
