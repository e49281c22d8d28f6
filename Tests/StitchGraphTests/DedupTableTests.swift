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
}
