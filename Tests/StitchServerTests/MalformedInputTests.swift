import NIOCore
import StitchClient
import StitchServer
import StitchWire
import Testing

/// Bad frames get typed answers and the connection goes on where the stream
/// is still in sync (FRAMING.md "Limits").
@Suite("Malformed frames against the running server")
struct MalformedInputTests {
    static func batchFrame(sequence: UInt64, cookie: String) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        let batch = Stitch_V1_BeaconBatch.with {
            $0.beacons = [Beacons.hit(timeMs: 1_700_000_000_000, cookie: cookie, session: "session-" + cookie)]
        }
        try FrameEncoder().encode(batch, type: .batch, sequence: sequence, into: &buffer)
        return buffer
    }

    @Test("collector: a bad checksum and an unknown type are refused, the next batch on the same connection is acked")
    func ingestConnectionSurvivesBadFrames() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()

        var badChecksum = try Self.batchFrame(sequence: 7, cookie: "cookie-crc-1")
        badChecksum.setInteger(badChecksum.getInteger(at: 24, as: UInt32.self)! ^ 1, at: 24)
        let crcReply = try await ingest.sendFrame(badChecksum, sequence: 7).get()
        #expect(crcReply.refusal?.code == .checksumMismatch)
        #expect(crcReply.refusal?.closing == false)

        var wrongType = try Self.batchFrame(sequence: 8, cookie: "cookie-typ-1")
        wrongType.setInteger(UInt8(FrameType.request.rawValue), at: 3)
        let typeReply = try await ingest.sendFrame(wrongType, sequence: 8).get()
        #expect(typeReply.refusal?.code == .unknownType)

        let good = try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-good-1", session: "session-good-1")], sequence: 9).get()
        #expect(good.ack?.accepted == 1)

        let query = try await server.queryClient()
        #expect(try await query.lookup(site: 1, kind: .cookie, value: "cookie-crc-1").found == false)
        #expect(try await query.lookup(site: 1, kind: .cookie, value: "cookie-good-1").found)
        await query.close()
        await ingest.close()
        await server.stopAndRemove()
    }

    @Test("collector: a bad magic is fatal: answered with a closing error, then the connection closes")
    func badMagicClosesConnection() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        var garbage = ByteBufferAllocator().buffer(capacity: 64)
        garbage.writeString("GET / HTTP/1.1\r\nHost: stitch\r\n\r\n")
        let pending = ingest.send([Beacons.hit(timeMs: 1, cookie: "cookie-never-1", session: "session-never-1")], sequence: 1)
        _ = try await pending.get()  // sent and acked before the garbage
        try await ingest.sendUnanswered(garbage)
        try await ingest.closeFuture.get()
        let query = try await server.queryClient()
        let stats = try await query.stats()
        #expect(stats.counters.contains { $0.name == "stitch_frames_rejected_total{reason=\"bad_magic\",transport=\"tcp\"}" && $0.value == 1 })
        await query.close()
        await server.stopAndRemove()
    }

    @Test("query server: a request before hello, a corrupt request and an unknown kind get typed errors; the connection goes on")
    func queryConnectionSurvivesBadRequests() async throws {
        let server = try await TestServer()
        let query = try await server.queryClient()

        var corrupt = ByteBufferAllocator().buffer(capacity: 64)
        try FrameEncoder().encode(Stitch_V1_Request.with { $0.requestID = 500; $0.stats = .init() }, type: .request,
                                  sequence: 500, into: &corrupt)
        corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)  // payload byte: CRC no longer matches
        let corruptReply = try await query.sendFrame(corrupt, requestID: 500).get()
        #expect(corruptReply.requestID == 500)
        #expect(corruptReply.error.code == .badFrame)

        var empty = ByteBufferAllocator().buffer(capacity: 64)
        try FrameEncoder().encode(Stitch_V1_Request.with { $0.requestID = 501 }, type: .request, sequence: 501, into: &empty)
        let unknownReply = try await query.sendFrame(empty, requestID: 501).get()
        #expect(unknownReply.error.code == .unsupported)

        let invalid = try await query.response(.lookup(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.phone, "null")
        })).get()
        #expect(invalid.error.code == .invalidArgument)

        // Still usable.
        let stats = try await query.stats()
        #expect(stats.events == 0)
        await query.close()

        // A raw connection that skips hello.
        let raw = try await IngestlessQuery.rawConnection(port: server.ports.query)
        let answer = try await raw.sendFrame(try IngestlessQuery.statsFrame(id: 3), requestID: 3).get()
        #expect(answer.error.code == .unauthenticated)
        await raw.close()
        await server.stopAndRemove()
    }
}

/// Helpers to talk to the query port without the client's automatic hello.
enum IngestlessQuery {
    static func statsFrame(id: UInt64) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        try FrameEncoder().encode(Stitch_V1_Request.with { $0.requestID = id; $0.stats = .init() }, type: .request,
                                  sequence: id, into: &buffer)
        return buffer
    }

    static func rawConnection(port: Int) async throws -> QueryClient {
        try await QueryClient.connect(host: "127.0.0.1", port: port, sayHello: false)
    }
}
