/// The first `capacity` event positions in query order, kept sorted while
/// members' events are offered one by one (a bounded selection for history
/// pages).
struct BestPositions {
    struct Entry {
        var position: HistoryCursor
        var anchor: UInt64
    }

    let capacity: Int
    let newestFirst: Bool
    private(set) var entries: [Entry] = []

    init(capacity: Int, newestFirst: Bool) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.newestFirst = newestFirst
        entries.reserveCapacity(capacity)
    }

    private func comesFirst(_ a: HistoryCursor, _ b: HistoryCursor) -> Bool {
        newestFirst ? b.precedes(a) : a.precedes(b)
    }

    /// Keeps `position` if it is among the first `capacity`; returns false
    /// when it is not, which means no later position of the same member is.
    mutating func offer(_ position: HistoryCursor, anchor: UInt64) -> Bool {
        if entries.count == capacity, !comesFirst(position, entries[capacity - 1].position) {
            return false
        }
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if comesFirst(entries[middle].position, position) { low = middle + 1 } else { high = middle }
        }
        entries.insert(Entry(position: position, anchor: anchor), at: low)
        if entries.count > capacity { entries.removeLast() }
        return true
    }
}
