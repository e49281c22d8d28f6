import NIOCore
import NIOEmbedded
import NIOTestUtils
import StitchTesting
import StitchWire
import Testing

/// The stream decoder gives the same frames whatever the byte boundaries.
@Suite struct IncrementalDecodingTests {
    /// Good, refused-but-in-sync and compressed frames back to back.
    static func mixedStream() throws -> (ByteBuffer, count: Int) {
        var stream = ByteBuffer()
        var pieces = [
            try Fixtures.batchFrame([Fixtures.visit], sequence: 1),
            Fixtures.rawFrame(payload: [0x0A, 100, 1, 2], sequence: 2),
            try Fixtures.batchFrame(Fixtures.beaconsByBody.map(\.beacon), sequence: 3, compressed: true),
            Fixtures.rawFrame(payload: [], sequence: 4),
            Fixtures.rawFrame(payload: [1, 2, 3], flags: 0x80, sequence: 5),
        ]
        for index in pieces.indices { stream.writeBuffer(&pieces[index]) }
        return (stream, pieces.count)
    }

    @Test func oneByteAtATimeEqualsWhole() throws {
        let (stream, count) = try Self.mixedStream()
        let whole = decodeStream(stream, chunks: [stream.readableBytes])
        let dripped = decodeStream(stream, chunks: [1])
        #expect(whole.0.count == count && whole.1 == nil)
        #expect(dripped.0 == whole.0)
        #expect(dripped.1 == nil)
        let outcomes = whole.0.map { frame in Result { try BatchDecoder().decode(frame, receivedMs: Fixtures.receivedMs).sequence } }
        #expect(outcomes.map { (try? $0.get()) != nil } == [true, false, true, false, false])
    }

    @Test func randomChunkingEqualsWhole() throws {
        var random = SeededGenerator.forTest("randomChunkingEqualsWhole")
        var (stream, _) = try Self.mixedStream()
        var bad = ByteBuffer(bytes: [0x53, 0x54, 0x09])  // ends in an unsupported version
        stream.writeBuffer(&bad)
        let whole = decodeStream(stream, chunks: [stream.readableBytes])
        #expect(whole.1 == .unsupportedVersion(9))
        for _ in 0..<50 {
            let chunks = (0..<8).map { _ in Int.random(in: 1...64, using: &random) }
            let chunked = decodeStream(stream, chunks: chunks)
            #expect(chunked.0 == whole.0, "chunks \(chunks)")
            #expect(chunked.1 == whole.1, "chunks \(chunks)")
        }
    }

    @Test func nioVerifierAgrees() throws {
        let frames = [
            try Fixtures.batchFrame([Fixtures.visit], sequence: 1),
            try Fixtures.batchFrame([Fixtures.visit, Fixtures.visit], sequence: 2, compressed: true),
        ]
        let pairs = try frames.map { bytes in
            (bytes, [try Frame.parseDatagram(bytes, limits: .standard)])
        }
        // Feeds each input whole, byte by byte and in pieces, checking the
        // decoder never consumes a partial frame and never loses bytes.
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func channelHandlerClosesOnlyOnStreamErrors() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        let good = try Fixtures.batchFrame([Fixtures.visit], sequence: 1)
        for byte in good.readableBytesView {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        let frame = try #require(try channel.readInbound(as: Frame.self))
        #expect(frame.header.sequence == 1)
        #expect(throws: FrameError.badMagic(0x0102)) {
            try channel.writeInbound(ByteBuffer(bytes: [0x01, 0x02, 0x03]))
        }
        _ = try? channel.finish()
    }
}
