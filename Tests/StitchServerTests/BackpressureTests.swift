import NIOCore
import StitchClient
import StitchServer
import StitchWire
import Testing

/// A full queue pauses TCP readers (nothing lost) and drops UDP (counted).
@Suite("Backpressure")
struct BackpressureTests {
    static func batch(_ sequence: Int, size: Int) -> [Stitch_V1_Beacon] {
        (0..<size).map { i in
            Beacons.hit(timeMs: 1_700_000_000_000 + Int64(i), cookie: "cookie-bp-\(sequence)-\(i)", session: "session-bp-\(sequence)-\(i)")
        }
    }

    @Test("pipelined batches far beyond the queue's size are each acked once, nothing is lost")
    func tcpWaitsForTheWriter() async throws {
        // A slow writer (small groups, long waits) behind the smallest queue.
        let server = try await TestServer {
            $0.queueBeaconsMax = 4096
            $0.groupBeaconsMax = 1000
            $0.flushIntervalMs = 20
        }
        let clients = [try await server.ingestClient(), try await server.ingestClient()]
        var replies: [EventLoopFuture<IngestReply>] = []
        for sequence in 1...24 {
            replies.append(clients[sequence % 2].send(Self.batch(sequence, size: 1000), sequence: UInt64(sequence)))
        }
        var accepted = 0
        for reply in replies { accepted += Int(try #require(try await reply.get().ack).accepted) }
        #expect(accepted == 24_000)
        let query = try await server.queryClient()
        let stats = try await query.stats()
        #expect(stats.events == 24_000)
        for client in clients { await client.close() }
        await query.close()
        await server.stopAndRemove()
    }
}
