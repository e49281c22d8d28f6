/// An event index entry waiting for `flush`: its key's three parts as
/// integers, so the batch sorts them without a byte array per event (they
/// order as the big-endian key does).
struct PendingEvent: Comparable {
    var anchor: UInt64
    var sortableTime: UInt64
    var seq: UInt64
    var type: UInt8

    init(anchor: UInt64, timeMs: Int64, seq: UInt64, type: UInt8) {
        self.anchor = anchor
        self.sortableTime = ByteCoding.sortableTime(timeMs)
        self.seq = seq
        self.type = type
    }

    static func < (a: PendingEvent, b: PendingEvent) -> Bool {
        (a.anchor, a.sortableTime, a.seq) < (b.anchor, b.sortableTime, b.seq)
    }

    /// Writes the `StoreKeys.eventKey` bytes into `key` (24 bytes).
    func writeKey(into key: inout [UInt8]) {
        key.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: anchor.bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: sortableTime.bigEndian, toByteOffset: 8, as: UInt64.self)
            bytes.storeBytes(of: seq.bigEndian, toByteOffset: 16, as: UInt64.self)
        }
    }
}
