import Foundation
import StitchGraph
import StitchTesting
import Testing

@Suite("Shard layout")
struct ShardLayoutTests {
    @Test("sites by site % count unless placed; placement and count are checked")
    func placement() throws {
        let layout = try ShardLayout(count: 3, sites: [7: 0])
        #expect(layout.shard(of: 1) == 1)
        #expect(layout.shard(of: 5) == 2)
        #expect(layout.shard(of: 7) == 0)
        #expect(throws: ShardLayoutError.self) { try ShardLayout(count: 0) }
        #expect(throws: ShardLayoutError.self) { try ShardLayout(count: ShardLayout.countMax + 1) }
        #expect(throws: ShardLayoutError.self) { try ShardLayout(count: 2, sites: [7: 2]) }
        #expect(ShardLayout.directory(of: 0, in: "/d") == "/d")
        #expect(ShardLayout.directory(of: 2, in: "/d") == "/d/shard-2")
    }

    @Test("a new store records its layout; the record wins, another explicit layout is refused; a store from before shards is one shard")
    func recordAndResolve() throws {
        let directory = try TemporaryDirectory("stitch-shards")
        defer { directory.remove() }
        let path = directory.appending("data")
        #expect(try ShardLayout.recorded(in: path) == nil)
        let made = try ShardLayout.resolve(dataDirectory: path, requested: ShardLayout(count: 3, sites: [9: 1]))
        #expect(made.count == 3)
        #expect(try ShardLayout.recorded(in: path) == made)
        #expect(try ShardLayout.resolve(dataDirectory: path, requested: nil) == made)
        #expect(try ShardLayout.resolve(dataDirectory: path, requested: ShardLayout(count: 3, sites: [9: 1])) == made)
        do {
            _ = try ShardLayout.resolve(dataDirectory: path, requested: ShardLayout(count: 2))
            Issue.record("a layout change was accepted")
        } catch {
            #expect(error.description.contains("ops/reshard.sh"))
        }
        // An LMDB store written before shards existed, with no record.
        let legacy = directory.appending("legacy")
        let graph = try IdentityGraph(path: legacy)
        graph.close()
        #expect(try ShardLayout.resolve(dataDirectory: legacy, requested: nil) == ShardLayout(count: 1))
    }
}
