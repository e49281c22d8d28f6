import NIOCore
import StitchClient
import StitchServer
import StitchWire
import Testing

/// Beacons over TCP and UDP reach the store and the query server.
@Suite("Ingest over TCP and UDP")
struct IngestTests {
    @Test("a TCP batch is acked and its events show in lookup and history")
    func tcpBatchAckedAndVisible() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        let query = try await server.queryClient()
        let beacons = (0..<5).map { i in
            Beacons.hit(timeMs: 1_700_000_000_000 + Int64(i), cookie: "cookie-aaaa-1", session: "session-aaaa-1",
                        url: "https://a.example/p\(i)")
        }
        let reply = try await ingest.send(beacons, sequence: 42).get()
        #expect(reply == .ack(.with { $0.accepted = 5 }))

        // Acked means committed: no waiting needed before the lookup.
        let lookup = try await query.lookup(site: 1, kind: .cookie, value: "cookie-aaaa-1", includeIdentifiers: true)
        #expect(lookup.found)
        #expect(lookup.person.eventCount == 5)
        #expect(Set(lookup.person.identifiers.map(\.value)) == ["cookie-aaaa-1", "session-aaaa-1"])
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.session, "session-aaaa-1")
            $0.limit = 3
        })
        #expect(history.events.map(\.beacon.hit.url) == ["https://a.example/p0", "https://a.example/p1", "https://a.example/p2"])
        #expect(!history.nextCursor.isEmpty)
        let rest = try await query.history(.with {
            $0.site = 1
            $0.person.personID = history.personID
            $0.cursor = history.nextCursor
        })
        #expect(rest.events.map(\.beacon.hit.url) == ["https://a.example/p3", "https://a.example/p4"])
        #expect(rest.nextCursor.isEmpty)
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("pipelined batches on several connections are each acked once, with per-beacon rejections")
    func pipelinedBatches() async throws {
        let server = try await TestServer()
        let clients = [try await server.ingestClient(), try await server.ingestClient()]
        var futures: [EventLoopFuture<IngestReply>] = []
        for sequence in 1...40 {
            var beacons = [Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-pipe-\(sequence)", session: "session-pipe-\(sequence)")]
            if sequence % 4 == 0 {
                var bad = beacons[0]
                bad.timeMs = 0  // BAD_TIME: rejected alone, its batch mates stored
                beacons.append(bad)
            }
            futures.append(clients[sequence % 2].send(beacons, sequence: UInt64(sequence)))
        }
        var accepted = 0
        var rejected = 0
        for future in futures {
            let ack = try #require(try await future.get().ack)
            accepted += Int(ack.accepted)
            rejected += Int(ack.rejected)
            if ack.rejected > 0 { #expect(ack.rejections.first?.index == 1) }
        }
        #expect(accepted == 40)
        #expect(rejected == 10)
        let query = try await server.queryClient()
        let stats = try await query.stats()
        #expect(stats.events == 40)
        #expect(stats.counters.contains { $0.name == "stitch_beacons_rejected_total{reason=\"bad_time\"}" && $0.value == 10 })
        for client in clients { await client.close() }
        await query.close()
        await server.stopAndRemove()
    }

    @Test("UDP beacons are stored; bad datagrams are counted and dropped")
    func udpBeaconsStored() async throws {
        let server = try await TestServer()
        let sender = try await server.udpSender()
        let query = try await server.queryClient()
        for i in 0..<10 {
            let beacons = [Beacons.hit(timeMs: 1_700_000_000_000 + Int64(i), cookie: "cookie-udp-\(i % 2)", session: "session-udp-\(i)")]
            try await sender.send(beacons, sequence: UInt64(i + 1)).get()
        }
        var garbage = ByteBufferAllocator().buffer(capacity: 64)
        garbage.writeString("this is not a Stitch frame at all, just bytes")
        try await sender.sendDatagram(garbage).get()
        try await eventually("10 UDP events stored") { try await query.stats().events == 10 }
        let lookup = try await query.lookup(site: 1, kind: .cookie, value: "cookie-udp-1")
        #expect(lookup.person.eventCount == 5)
        try await eventually("bad datagram counted") {
            try await query.stats().counters.contains {
                $0.name == "stitch_frames_rejected_total{reason=\"bad_magic\",transport=\"udp\"}" && $0.value == 1
            }
        }
        await sender.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("a later beacon that links two persons shows in merges-since")
    func mergeShowsInFeed() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        let query = try await server.queryClient()
        let t = Int64(1_700_000_000_000)
        _ = try await ingest.send([
            Beacons.hit(timeMs: t, cookie: "cookie-desktop-1", session: "session-desktop-1"),
            Beacons.form(timeMs: t + 1, cookie: "cookie-desktop-1", phone: "8 (916) 123-45-67"),
            Beacons.hit(timeMs: t + 2, cookie: "cookie-mobile-01", session: "session-mobile-1"),
        ], sequence: 1).get()
        let desktop = try await query.lookup(site: 1, kind: .cookie, value: "cookie-desktop-1").person.personID
        let mobile = try await query.lookup(site: 1, kind: .cookie, value: "cookie-mobile-01").person.personID
        #expect(desktop != mobile)
        let before = try await query.mergesSince(site: 1)

        // The mobile visitor leaves the same phone in another format.
        _ = try await ingest.send([Beacons.form(timeMs: t + 3, cookie: "cookie-mobile-01", phone: "+7 916 1234567")], sequence: 2).get()
        let after = try await query.mergesSince(site: 1, cursor: before.nextCursor)
        let merge = try #require(after.merges.last)
        #expect(Set([merge.winner, merge.loser]) == Set([desktop, mobile]))
        #expect(merge.winner == min(desktop, mobile))
        let merged = try await query.lookup(site: 1, kind: .phone, value: "89161234567")
        #expect(merged.person.personID == merge.winner)
        #expect(merged.person.eventCount == 4)
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }
}
