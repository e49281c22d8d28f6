/// A hash table from (site, event id) to an arrival time, made for the dedup
/// window's tens of millions of random ids: open addressing with linear
/// probing over one flat array of 24-byte slots (a probe touches one cache
/// line; no per-entry allocation), a multiplicative mix instead of SipHash
/// (event ids are the sender's random numbers, and nothing here is keyed by
/// an attacker who could profit from collisions more than from sending
/// repeats), and 64 shards that grow one at a time, so a resize moves 1/64
/// of the table, not all of it in one pause of the writer.
///
/// Event id 0 marks an empty slot: it means "no id" and is never stored.
struct DedupTable: Sendable {
    struct Slot: Sendable {
        var eventID: UInt64
        var arrivalMs: Int64
        var site: UInt32
    }

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
        _ = update(id) { _ in arrivalMs }
    }

    /// One probe for a read-then-write: `decide` sees what `id` holds (nil
    /// for nothing) and returns what it should hold (nil: leave it). Returns
    /// what it held before.
    mutating func update(_ id: DedupID, _ decide: (Int64?) -> Int64?) -> Int64? {
        precondition(id.eventID != 0, "event id 0 is never remembered")
        let hash = Self.mix(id)
        return shards[Int(hash >> 58)].update(id, hash: hash, decide)
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
        var slots: [Slot]
        var count = 0
        var mask: Int

        init(capacity: Int) {
            slots = Array(repeating: Slot(eventID: 0, arrivalMs: 0, site: 0), count: capacity)
            mask = capacity - 1
        }

        /// The slot holding `id`, or the empty slot where it would go.
        @inline(__always)
        func slot(of id: DedupID, hash: UInt64) -> Int {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot].eventID != 0 && (slots[slot].eventID != id.eventID || slots[slot].site != id.site) {
                slot = (slot + 1) & mask
            }
            return slot
        }

        func arrival(of id: DedupID, hash: UInt64) -> Int64? {
            let slot = slot(of: id, hash: hash)
            return slots[slot].eventID == 0 ? nil : slots[slot].arrivalMs
        }

        mutating func update(_ id: DedupID, hash: UInt64, _ decide: (Int64?) -> Int64?) -> Int64? {
            let slot = slot(of: id, hash: hash)
            let before = slots[slot].eventID == 0 ? nil : slots[slot].arrivalMs
            guard let after = decide(before) else { return before }
            if before == nil {
                if (count + 1) * 16 > slots.count * DedupTable.loadSixteenthsMax {
                    grow()
                    return update(id, hash: hash) { _ in after }
                }
                slots[slot].eventID = id.eventID
                slots[slot].site = id.site
                count += 1
            }
            slots[slot].arrivalMs = after
            return before
        }

        /// Deletion with backward shift: the entries after the hole that
        /// probed past it move back, so no tombstones pile up.
        mutating func remove(_ id: DedupID, ifArrival arrivalMs: Int64, hash: UInt64) {
            var hole = slot(of: id, hash: hash)
            guard slots[hole].eventID != 0, slots[hole].arrivalMs == arrivalMs else { return }
            count -= 1
            var next = (hole + 1) & mask
            while slots[next].eventID != 0 {
                let home = Int(truncatingIfNeeded: DedupTable.mix(DedupID(site: slots[next].site, eventID: slots[next].eventID))) & mask
                // Move `next` into the hole unless its home lies in (hole, next].
                let homeAfterHole = (home - hole) & mask
                let nextAfterHole = (next - hole) & mask
                if homeAfterHole == 0 || homeAfterHole > nextAfterHole {
                    slots[hole] = slots[next]
                    hole = next
                }
                next = (next + 1) & mask
            }
            slots[hole].eventID = 0
        }

        mutating func grow() {
            var bigger = Shard(capacity: slots.count * 2)
            forEach { id, arrival in _ = bigger.update(id, hash: DedupTable.mix(id)) { _ in arrival } }
            self = bigger
        }

        func forEach(_ body: (DedupID, Int64) -> Void) {
            for slot in slots where slot.eventID != 0 {
                body(DedupID(site: slot.site, eventID: slot.eventID), slot.arrivalMs)
            }
        }
    }
}
