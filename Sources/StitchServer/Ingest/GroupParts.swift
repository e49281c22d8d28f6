import StitchGraph
import StitchIdentity

/// A group of batches split by shard, for the writers (`GraphWriter`,
/// `LogFirstWriter`): each shard's part, and where each of its events sits
/// among the group's events, to map a shard's findings back to batches.
struct GroupParts {
    struct Part {
        var events: [PreparedEvent] = []
        var renewals: [LeaseRenewal] = []
        /// Each event's position among the group's events.
        var positions: [Int] = []
    }

    /// By shard; a shard with nothing in the group has an empty part.
    var parts: [Part]
    /// The group's events, all shards.
    var eventCount: Int
    /// The shards with events or renewals in the group, ascending.
    var busy: [Int]

    init(_ group: [IngestItem], layout: ShardLayout) {
        var parts = [Part](repeating: Part(), count: layout.count)
        var position = 0
        for item in group {
            for event in item.events {
                let shard = layout.shard(of: event.site)
                parts[shard].events.append(event)
                parts[shard].positions.append(position)
                position += 1
            }
            for renewal in item.renewals {
                parts[layout.shard(of: renewal.site)].renewals.append(renewal)
            }
        }
        eventCount = position
        busy = parts.indices.filter { !parts[$0].events.isEmpty || !parts[$0].renewals.isEmpty }
        self.parts = parts
    }

    /// For each batch of `group` (the group this was made from), whether
    /// one of its events is in a part marked in `failed` (by shard).
    func batchesTouching(failed: [Bool], of group: [IngestItem]) -> [Bool] {
        var eventFailed = [Bool](repeating: false, count: eventCount)
        for shard in parts.indices where failed[shard] {
            for position in parts[shard].positions { eventFailed[position] = true }
        }
        var offset = 0
        return group.map { item in
            let range = offset..<(offset + item.events.count)
            offset = range.upperBound
            return range.contains { eventFailed[$0] }
        }
    }
}
