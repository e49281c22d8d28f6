import Foundation
import StitchClient
@testable import StitchServer
import StitchTesting
import StitchWire
import Testing

/// `ack_after = log` on a real server: a batch is acked once its shards'
/// group logs hold it, and each shard's applier stores it right behind.
@Suite("Acks after the group log (ack_after = log)")
struct LogFirstAckTests {
    static let startMs: Int64 = 1_767_225_600_000

    static func server(directory: TemporaryDirectory? = nil) async throws -> TestServer {
        try await TestServer(directory: directory) {
            $0.durability = .log
            $0.ackAfter = .log
            // Sites 1 and 2 in different shards (site % 2).
            $0.shards = 2
            $0.clusterReadWaitMs = 300
        }
    }

    /// Batch `index`: a form on site 1 and a page hit on site 2, with event ids.
    static func batch(_ index: Int) -> [Stitch_V1_Beacon] {
        var form = Beacons.form(site: 1, timeMs: startMs + Int64(index), cookie: "cookie-logged-\(index)", phone: phone(index))
        form.eventID = UInt64(2 * index + 1)
        var hit = Beacons.hit(site: 2, timeMs: startMs + Int64(index), cookie: "cookie-logged-\(index)", session: "session-logged-\(index)")
        hit.eventID = UInt64(2 * index + 2)
        return [form, hit]
    }

    static func phone(_ index: Int) -> String { "+7916\(2_345_000 + index)" }

    /// Sends `count` batches pipelined; returns their acks in order.
    static func send(_ count: Int, to server: TestServer) async throws -> [Stitch_V1_BatchAck] {
        let ingest = try await server.ingestClient()
        let replies = (0..<count).map { ingest.send(batch($0), sequence: UInt64($0 + 1)) }
        var acks: [Stitch_V1_BatchAck] = []
        for reply in replies { acks.append(try #require(try await reply.get().ack)) }
        await ingest.close()
        return acks
    }

    /// The last position of `partition` among `acks`.
    static func lastPosition(_ acks: [Stitch_V1_BatchAck], partition: UInt32) throws -> Stitch_V1_LogPosition {
        try #require(acks.flatMap(\.logPositions).filter { $0.partition == partition }.max { $0.sequence < $1.sequence })
    }

    @Test("each ack names its shards' log positions; a lookup given one sees the batch, one past the log times out; a resent batch is stored once")
    func positionsReadYourWritesExactlyOnce() async throws {
        let server = try await Self.server()
        let count = 40
        let acks = try await Self.send(count, to: server)
        var previous: [UInt32: UInt64] = [:]
        for ack in acks {
            #expect(ack.accepted == 2 && ack.repeated == 0)
            #expect(ack.logPositions.map(\.partition) == [0, 1], "a beacon of each shard: \(ack)")
            for position in ack.logPositions {
                #expect(position.sequence >= previous[position.partition] ?? 1, "sequences never go back")
                previous[position.partition] = position.sequence
            }
        }
        let query = try await server.queryClient()
        let last = try Self.lastPosition(acks, partition: 1)
        let found = try await query.lookup(site: 1, kind: .phone, value: Self.phone(count - 1), minPosition: last)
        #expect(found.found, "the last batch's form, read with its ack's position")
        var ahead = last
        ahead.sequence += 1_000
        await #expect(throws: (any Error).self, "a position the log has not reached answers UNAVAILABLE after the wait") {
            _ = try await query.lookup(site: 1, kind: .phone, value: Self.phone(0), minPosition: ahead)
        }

        let again = try await Self.send(count, to: server)
        #expect(again.allSatisfy { $0.accepted == 2 && $0.repeated == 0 }, "the ack cannot know repeats: they are found by the apply")
        for partition: UInt32 in [0, 1] {
            let position = try Self.lastPosition(again, partition: partition)
            _ = try await query.lookup(site: partition == 1 ? 1 : 2, kind: .phone, value: Self.phone(0), minPosition: position)
        }
        let stats = try await query.stats()
        #expect(stats.events == UInt64(2 * count), "the resent beacons were dropped by their event ids")
        #expect(stats.total(.beaconsRepeated) == UInt64(2 * count))
        await query.close()
        await server.stopAndRemove()
    }

    @Test("a lease asked right after its page view's ack waits for the apply: the session is known, not refused as made up")
    func leaseAfterAnAckedPageView() async throws {
        let server = try await TestServer {
            $0.durability = .log
            $0.ackAfter = .log
            $0.numberPools = try! CallTrackingServerTests.pools()
        }
        // A backlog ahead of the page view, so the applier is likely still behind when the lease comes.
        let ingest = try await server.ingestClient()
        let filler = (0..<100).map { batch in
            ingest.send((0..<50).map { Beacons.hit(timeMs: Self.startMs, cookie: "cookie-filler-\(batch)-\($0)", session: "session-filler-\(batch)-\($0)") }, sequence: UInt64(batch + 1))
        }
        let pageView = ingest.send([Beacons.hit(timeMs: Int64(Date().timeIntervalSince1970 * 1000), cookie: "cookie-lease-1", session: "session-lease-1")], sequence: 101)
        #expect(try await pageView.get().ack?.accepted == 1)
        let granted = LeaseRenewalServerTests.json(try await HTTPIntakeTests.get(server, "/v1/lease?site=1&session=session-lease-1"))
        #expect(granted["kind"] as? String == "new" && granted["tracking_number"] as? String == "+74951000001", "\(granted)")
        for reply in filler { _ = try await reply.get() }
        await ingest.close()
        await server.stopAndRemove()
    }

    @Test("a stop applies everything acked before it ends; the restarted store holds every batch once")
    func stopAppliesTheBacklog() async throws {
        let directory = try TemporaryDirectory("stitch-logged")
        let server = try await Self.server(directory: directory)
        let count = 300
        let acks = try await Self.send(count, to: server)
        #expect(acks.count == count && acks.allSatisfy { $0.accepted == 2 })
        await server.stop()

        let restarted = try await Self.server(directory: directory)
        let query = try await restarted.queryClient()
        let stats = try await query.stats()
        #expect(stats.events == UInt64(2 * count))
        let found = try await query.lookup(site: 1, kind: .phone, value: Self.phone(count - 1))
        #expect(found.found)
        await query.close()
        await restarted.stopAndRemove()
    }
}
