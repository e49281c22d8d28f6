import StitchIdentity

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

extension NodeRecord {
    /// Counts index entries anchored here that were written later than
    /// their events were applied (the write-behind, `IndexOverlay`).
    mutating func addAnchored(_ entries: ArraySlice<PendingEvent>) {
        for entry in entries {
            addAnchored(EventType(rawValue: Int(entry.type))!)
            lastSeenMs = max(lastSeenMs, entry.timeMs)
        }
    }
}

extension ArraySlice<PendingEvent> {
    /// Calls `body` with each run of consecutive entries of one anchor
    /// (all of an anchor's, when sorted).
    func forEachAnchorRun(_ body: (_ anchor: UInt64, _ run: ArraySlice<PendingEvent>) throws -> Void) rethrows {
        var index = startIndex
        while index < endIndex {
            let anchor = self[index].anchor
            var end = index
            while end < endIndex, self[end].anchor == anchor { end += 1 }
            try body(anchor, self[index..<end])
            index = end
        }
    }
}
