/// An event index entry waiting for `flush`: its key's three parts as
/// integers, so the batch sorts them without a byte array per event. They
/// order as the key does: `StoreKeys.eventKey` writes the time so that its
/// bytes sort as the signed time does.
struct PendingEvent: Comparable {
    var anchor: UInt64
    var timeMs: Int64
    var seq: UInt64
    var type: UInt8

    static func < (a: PendingEvent, b: PendingEvent) -> Bool {
        (a.anchor, a.timeMs, a.seq) < (b.anchor, b.timeMs, b.seq)
    }
}
