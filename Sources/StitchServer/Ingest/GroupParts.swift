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
    /// For each batch of the group, the shards its events went to, and
    /// those its renewals went to: bit `shard` set (`ShardLayout.countMax`
    /// is 16).
    var eventShards: [UInt16]
    var renewalShards: [UInt16]

    init(_ group: [IngestItem], layout: ShardLayout) {
        precondition(layout.count <= UInt16.bitWidth, "a shard mask of 16 bits holds \(layout.count) shards")
        var parts = [Part](repeating: Part(), count: layout.count)
        var eventShards = [UInt16](repeating: 0, count: group.count)
        var renewalShards = [UInt16](repeating: 0, count: group.count)
        var position = 0
        for (index, item) in group.enumerated() {
            for event in item.events {
                let shard = layout.shard(of: event.site)
                parts[shard].events.append(event)
                parts[shard].positions.append(position)
                eventShards[index] |= 1 << shard
                position += 1
            }
            for renewal in item.renewals {
                let shard = layout.shard(of: renewal.site)
                parts[shard].renewals.append(renewal)
                renewalShards[index] |= 1 << shard
            }
        }
        eventCount = position
        busy = parts.indices.filter { !parts[$0].events.isEmpty || !parts[$0].renewals.isEmpty }
        self.parts = parts
        self.eventShards = eventShards
        self.renewalShards = renewalShards
    }

    /// For each batch, whether one of its events is in a part marked in
    /// `failed` (by shard).
    func batchesTouching(failed: [Bool]) -> [Bool] {
        let failedShards = failed.indices.reduce(UInt16(0)) { failed[$1] ? $0 | 1 << $1 : $0 }
        return eventShards.map { $0 & failedShards != 0 }
    }

    /// The shards batch `index` went to (events or renewals), ascending.
    func shards(ofBatch index: Int) -> [Int] {
        let mask = eventShards[index] | renewalShards[index]
        return parts.indices.filter { mask & 1 << $0 != 0 }
    }
}
