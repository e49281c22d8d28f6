#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hash table from (site, event id) to an arrival time, made for the dedup
/// window's tens of millions of random ids: open addressing with linear
/// probing over flat runs of 24-byte slots (a probe touches one cache line;
/// no per-entry allocation), at most half to five eighths full so a miss ends after ~2.5–4
/// slots, a multiplicative mix instead of SipHash (event ids are the sender's
/// random numbers, and nothing here is keyed by an attacker who could profit
/// from collisions more than from sending repeats), and 64 shards that grow
/// one at a time, so a resize moves 1/64 of the table at once.
///
/// Slots live in anonymous memory mapped for the shard and advised to use
/// huge pages: every lookup lands on a random slot of a table of hundreds of
/// megabytes, and with 4 KiB pages each one also missed the TLB (profiled: a
/// probe cost ~0.6 µs at 17M ids).
///
/// Event id 0 marks an empty slot: it means "no id" and is never stored.
/// A reference type: one owner (`DedupMemory`, under its lock) mutates it.
final class DedupTable: @unchecked Sendable {
    struct Slot: Sendable {
        var eventID: UInt64
        var arrivalMs: Int64
        var site: UInt32
    }

    private var shards: [Shard]

    init() {
        // One run of slots each (Shard holds a reference: no Array(repeating:)).
        shards = (0..<Self.shardCount).map { Shard(capacity: 16, loadPer1024Max: Self.loadPer1024Max(shard: $0)) }
    }

    static let shardCount = 64

    /// How full (out of 1,024) a shard grows at: from one half (probes stay
    /// short) to five eighths, spread over the shards. Ids hash evenly, so
    /// shards with one threshold all reach it within a fraction of a second:
    /// 64 resizes back to back stalled the writer for over a second at 17M
    /// and 34M ids (ack p99 past 1 s in `ops/scale-curve.sh`). Spread, they
    /// come one at a time over a quarter more ids.
    static func loadPer1024Max(shard: Int) -> Int {
        512 + 128 * shard / (shardCount - 1)
    }

    var count: Int { shards.reduce(0) { $0 + $1.count } }

    /// Each shard's slots, for tests of when shards grow.
    var shardCapacities: [Int] { shards.map(\.slots.capacity) }

    /// The arrival stored for `id`, if any.
    func arrival(of id: DedupID) -> Int64? {
        let hash = Self.mix(id)
        return shards[Int(hash >> 58)].arrival(of: id, hash: hash)
    }

    /// Stores `arrivalMs` for `id`, replacing what was there.
    func set(_ id: DedupID, _ arrivalMs: Int64) {
        _ = update(id) { _ in arrivalMs }
    }

    /// One probe for a read-then-write: `decide` sees what `id` holds (nil
    /// for nothing) and returns what it should hold (nil: leave it). Returns
    /// what it held before.
    func update(_ id: DedupID, _ decide: (Int64?) -> Int64?) -> Int64? {
        precondition(id.eventID != 0, "event id 0 is never remembered")
        let hash = Self.mix(id)
        return shards[Int(hash >> 58)].update(id, hash: hash, decide)
    }

    /// Removes `id` if its stored arrival is `arrivalMs` (a newer arrival of
    /// the same id stays).
    func remove(_ id: DedupID, ifArrival arrivalMs: Int64) {
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

    struct Shard {
        var slots: SlotRun
        var count = 0
        var mask: Int
        /// Grows when fuller than this (out of 1,024).
        let loadPer1024Max: Int

        init(capacity: Int, loadPer1024Max: Int) {
            slots = SlotRun(capacity: capacity)
            mask = capacity - 1
            self.loadPer1024Max = loadPer1024Max
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
                if (count + 1) * 1024 > slots.capacity * loadPer1024Max {
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
            var bigger = Shard(capacity: slots.capacity * 2, loadPer1024Max: loadPer1024Max)
            forEach { id, arrival in _ = bigger.update(id, hash: DedupTable.mix(id)) { _ in arrival } }
            self = bigger
        }

        func forEach(_ body: (DedupID, Int64) -> Void) {
            for index in 0..<slots.capacity where slots[index].eventID != 0 {
                body(DedupID(site: slots[index].site, eventID: slots[index].eventID), slots[index].arrivalMs)
            }
        }
    }

    /// One shard's slots: zeroed anonymous memory (so every slot starts
    /// empty), advised to use huge pages, unmapped with the last reference.
    final class SlotRun {
        let base: UnsafeMutablePointer<Slot>
        let capacity: Int
        private let bytes: Int

        init(capacity: Int) {
            self.capacity = capacity
            bytes = capacity * MemoryLayout<Slot>.stride
            guard let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED else {
                fatalError("cannot map \(bytes) bytes for the dedup index: errno \(errno)")
            }
            #if os(Linux)
            _ = madvise(mapped, bytes, MADV_HUGEPAGE)  // advice only: small pages work too
            #endif
            base = mapped.bindMemory(to: Slot.self, capacity: capacity)
        }

        deinit {
            munmap(base, bytes)
        }

        @inline(__always)
        subscript(index: Int) -> Slot {
            get { base[index] }
            set { base[index] = newValue }
        }
    }
}
