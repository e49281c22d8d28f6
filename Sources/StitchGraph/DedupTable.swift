/// A hash table from (site, event id) to an arrival time, made for the dedup
/// window's tens of millions of random ids: open addressing with linear
/// probing in flat arrays (20 bytes a slot, no per-entry allocation), a
/// multiplicative mix instead of SipHash (event ids are the sender's random
/// numbers, and nothing here is keyed by an attacker who could profit from
/// collisions more than from sending repeats), and 64 shards that grow one
/// at a time, so a resize moves 1/64 of the table, not all of it in one
/// pause of the writer.
///
/// Event id 0 marks an empty slot: it means "no id" and is never stored.
struct DedupTable: Sendable {
    private var shards: [Shard]

    init() {
        shards = Array(repeating: Shard(capacity: 16), count: Self.shardCount)
    }

    static let shardCount = 64
    /// A shard grows when it is this full (out of 16): probes stay short.
    static let loadSixteenthsMax = 11

    var count: Int { shards.reduce(0) { $0 + $1.count } }

    /// The arrival stored for `id`, if any.
    func arrival(of id: DedupID) -> Int64? {
        let hash = Self.mix(id)
        return shards[Int(hash >> 58)].arrival(of: id, hash: hash)
    }

    /// Stores `arrivalMs` for `id`, replacing what was there.
    mutating func set(_ id: DedupID, _ arrivalMs: Int64) {
        precondition(id.eventID != 0, "event id 0 is never remembered")
        let hash = Self.mix(id)
        shards[Int(hash >> 58)].set(id, arrivalMs, hash: hash)
    }

    /// Removes `id` if its stored arrival is `arrivalMs` (a newer arrival of
    /// the same id stays).
    mutating func remove(_ id: DedupID, ifArrival arrivalMs: Int64) {
        let hash = Self.mix(id)
        shards[Int(hash >> 58)].remove(id, ifArrival: arrivalMs, hash: hash)
    }

    /// Every entry, in no particular order.
    func forEach(_ body: (DedupID, Int64) -> Void) {
        for shard in shards { shard.forEach(body) }
    }

    /// SplitMix64's finalizer over the id and site: every bit of both moves
    /// the shard (top 6 bits) and the slot (low bits).
    @inline(__always)
    static func mix(_ id: DedupID) -> UInt64 {
        var z = id.eventID ^ (UInt64(id.site) &* 0x9E37_79B9_7F4A_7C15)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    struct Shard: Sendable {
        var eventIDs: [UInt64]
        var sites: [UInt32]
        var arrivals: [Int64]
        var count = 0
        var mask: Int

        init(capacity: Int) {
            eventIDs = Array(repeating: 0, count: capacity)
            sites = Array(repeating: 0, count: capacity)
            arrivals = Array(repeating: 0, count: capacity)
            mask = capacity - 1
        }

        /// The slot holding `id`, or the empty slot where it would go.
        @inline(__always)
        func slot(of id: DedupID, hash: UInt64) -> Int {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while eventIDs[slot] != 0 && (eventIDs[slot] != id.eventID || sites[slot] != id.site) {
                slot = (slot + 1) & mask
            }
            return slot
        }

        func arrival(of id: DedupID, hash: UInt64) -> Int64? {
            let slot = slot(of: id, hash: hash)
            return eventIDs[slot] == 0 ? nil : arrivals[slot]
        }

        mutating func set(_ id: DedupID, _ arrivalMs: Int64, hash: UInt64) {
            let slot = slot(of: id, hash: hash)
            if eventIDs[slot] == 0 {
                if (count + 1) * 16 > eventIDs.count * DedupTable.loadSixteenthsMax {
                    grow()
                    set(id, arrivalMs, hash: hash)
                    return
                }
                eventIDs[slot] = id.eventID
                sites[slot] = id.site
                count += 1
            }
            arrivals[slot] = arrivalMs
        }

        /// Deletion with backward shift: the entries after the hole that
        /// probed past it move back, so no tombstones pile up.
        mutating func remove(_ id: DedupID, ifArrival arrivalMs: Int64, hash: UInt64) {
            var hole = slot(of: id, hash: hash)
            guard eventIDs[hole] != 0, arrivals[hole] == arrivalMs else { return }
            count -= 1
            var next = (hole + 1) & mask
            while eventIDs[next] != 0 {
                let home = Int(truncatingIfNeeded: DedupTable.mix(DedupID(site: sites[next], eventID: eventIDs[next]))) & mask
                // Move `next` into the hole unless its home lies in (hole, next].
                let homeAfterHole = (home - hole) & mask
                let nextAfterHole = (next - hole) & mask
                if homeAfterHole == 0 || homeAfterHole > nextAfterHole {
                    eventIDs[hole] = eventIDs[next]
                    sites[hole] = sites[next]
                    arrivals[hole] = arrivals[next]
                    hole = next
                }
                next = (next + 1) & mask
            }
            eventIDs[hole] = 0
        }

        mutating func grow() {
            var bigger = Shard(capacity: eventIDs.count * 2)
            forEach { id, arrival in bigger.set(id, arrival, hash: DedupTable.mix(id)) }
            self = bigger
        }

        func forEach(_ body: (DedupID, Int64) -> Void) {
            for slot in eventIDs.indices where eventIDs[slot] != 0 {
                body(DedupID(site: sites[slot], eventID: eventIDs[slot]), arrivals[slot])
            }
        }
    }
}
