@testable import StitchGraph
import StitchTesting
import Testing

/// `DedupTable` (open addressing, backward-shift deletion, shards that grow
/// one at a time) against a plain Dictionary on seeded random work.
@Suite("Dedup table")
struct DedupTableTests {
    @Test("random sets, overwrites and removes agree with a Dictionary, through many resizes")
    func agreesWithDictionary() {
        var random = SeededGenerator.forTest("dedup table model")
        let seed = random.state
        let table = DedupTable()
        var model: [DedupID: Int64] = [:]
        // Few distinct ids, so removes and overwrites hit often and probe
        // chains wrap; then many, so every shard grows several times.
        for (operations, idRange) in [(20_000, 500), (200_000, 60_000)] {
            for step in 0..<operations {
                let id = DedupID(site: UInt32(1 + random.next(below: 3)), eventID: UInt64(1 + random.next(below: idRange)))
                switch random.next(below: 10) {
                case 0..<6:
                    table.set(id, Int64(step))
                    model[id] = Int64(step)
                case 6..<9:
                    // Only the stored arrival removes; another is ignored.
                    let arrival = random.chance(80) ? (model[id] ?? 0) : -1
                    table.remove(id, ifArrival: arrival)
                    if model[id] == arrival { model[id] = nil }
                default:
                    #expect(table.arrival(of: id) == model[id], "seed \(seed)")
                }
            }
            #expect(table.count == model.count, "seed \(seed)")
            var seen: [DedupID: Int64] = [:]
            table.forEach { seen[$0] = $1 }
            #expect(seen == model, "seed \(seed)")
            for (id, arrival) in model where table.arrival(of: id) != arrival {
                Issue.record("seed \(seed): \(id) lost")
                break
            }
        }
    }

    @Test("shards grow at loads spread over the shards, so their resizes do not come all at once")
    func resizesAreSpread() {
        let table = DedupTable()
        // 560 ids a shard on average: past the lowest threshold (512 of a
        // 1,024-slot shard), short of the highest (640).
        for eventID in 1...UInt64(64 * 560) {
            table.set(DedupID(site: 1, eventID: eventID), 1)
        }
        let grown = table.shardCapacities.filter { $0 > 1024 }.count
        #expect(table.shardCapacities.allSatisfy { $0 == 1024 || $0 == 2048 })
        #expect(grown > 5 && grown < 59, "\(grown) of 64 shards grew: the thresholds are spread")
    }
}
