import Foundation
import StitchClient
import StitchGraph
import StitchServer
import StitchTesting
import StitchWire
import Testing

/// Sharded stores on a real server: a batch spanning shards, queries routed
/// by site, the layout kept across restarts.
@Suite("Sharded store")
struct ShardServerTests {
    @Test("one batch across three shards gets one ack after all commit; each site is stitched in its shard; a restart keeps the layout and refuses another")
    func batchAcrossShards() async throws {
        let directory = try TemporaryDirectory("stitch-shards")
        let server = try await TestServer(directory: directory) { $0.shards = 3; $0.shardSites = [9: 0] }
        let t = Int64(1_700_000_000_000)
        var beacons: [Stitch_V1_Beacon] = []
        for site: UInt32 in [1, 2, 3, 9] {
            beacons.append(Beacons.hit(site: site, timeMs: t, cookie: "cookie-shard-1", session: "session-shard-\(site)"))
            beacons.append(Beacons.form(site: site, timeMs: t + 1, cookie: "cookie-shard-1", phone: "+7 916 100-00-0\(site)"))
        }
        let ingest = try await server.ingestClient()
        let reply = try await ingest.send(beacons, sequence: 1).get()
        guard case .ack(let ack) = reply else { Issue.record("not acked: \(reply)"); return }
        #expect(ack.accepted == 8)
        let query = try await server.queryClient()
        for site: UInt32 in [1, 2, 3, 9] {
            let person = try await query.lookup(site: site, kind: .cookie, value: "cookie-shard-1", includeIdentifiers: true)
            #expect(person.person.site == site)
            #expect(Set(person.person.identifiers.map(\.value)) == ["cookie-shard-1", "session-shard-\(site)", "+7916100000\(site)"])
            #expect(try await query.mergesSince(site: site).merges.allSatisfy { $0.site == site })
        }
        #expect(try await query.stats().events == 8)
        await query.close()
        await ingest.close()
        await server.stop()
        // Sites 3 and 9 (placed by hand) share shard 0, site 1 is in shard 1, site 2 in shard 2.
        let store = try ShardedGraph(
            dataDirectory: server.configuration.dataDirectory, layout: ShardLayout(count: 3, sites: [9: 0]),
            storeOptions: .init(readOnly: true))
        #expect(try store.shards.map { try $0.totals().events } == [4, 2, 2])
        store.close()

        // The recorded layout is used when none is asked for…
        let again = try await TestServer(directory: directory)
        let reopened = try await again.queryClient()
        #expect(try await reopened.lookup(site: 9, kind: .phone, value: "+79161000009").found)
        #expect(try await reopened.stats().events == 8)
        await reopened.close()
        await again.stop()
        // …and another is refused, naming the way to migrate.
        do {
            let other = try await TestServer(directory: directory) { $0.shards = 2 }
            await other.stop()
            Issue.record("a server started with another shard count")
        } catch {
            #expect("\(error)".contains("ops/reshard.sh"))
        }
        directory.remove()
    }
}
