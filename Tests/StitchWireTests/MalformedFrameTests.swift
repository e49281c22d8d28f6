import NIOCore
import StitchWire
import SwiftProtobuf
import Testing

/// Every limit and malformation of FRAMING.md gives its typed error.
@Suite struct MalformedFrameTests {
    // MARK: Stream-level: the stream cannot go on

    @Test func badMagicIsFatalAtItsFirstBytes() {
        var input = ByteBuffer(bytes: [0x47, 0x45])  // "GE", as in an HTTP GET
        let (_, error) = decodeStream(input, chunks: [1])
        #expect(error == .badMagic(0x4745))
        #expect(error?.closesStream == true)
        input = Fixtures.rawFrame(payload: [1])
        input.setInteger(UInt16(0x5355), at: 0)
        #expect(decodeStream(input, chunks: [100]).1 == .badMagic(0x5355))
    }

    @Test func unknownVersionIsFatal() throws {
        var input = try Fixtures.batchFrame([Fixtures.visit])
        input.setInteger(UInt8(2), at: 2)
        #expect(decodeStream(input, chunks: [3]).1 == .unsupportedVersion(2))
    }

    @Test func lyingLengthOverTheLimitIsRefusedBeforeWaitingForIt() {
        let limits = WireLimits(frameBytesMax: 1000)
        // Only the header is sent: the decoder must not wait for 4 GB.
        var header = Fixtures.rawFrame(payload: [], length: UInt32.max)
        header = header.getSlice(at: 0, length: FrameHeader.byteCount)!
        let (frames, error) = decodeStream(header, chunks: [FrameHeader.byteCount], limits: limits)
        #expect(frames.isEmpty)
        #expect(error == .frameTooLarge(length: Int(UInt32.max), max: 1000))
    }

    @Test func truncatedFrameIsNeverConsumed() throws {
        let whole = try Fixtures.batchFrame([Fixtures.visit])
        let cut = whole.getSlice(at: 0, length: whole.readableBytes - 1)!
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        var frames: [Frame] = []
        try processor.process(buffer: cut) { frames.append($0) }
        try processor.finishProcessing(seenEOF: true) { frames.append($0) }
        #expect(frames.isEmpty)
        #expect(processor.unprocessedBytes == cut.readableBytes, "the partial frame stays buffered, unread")
    }

    // MARK: Datagrams: exactly one frame each

    @Test func datagramMustHoldExactlyOneFrame() throws {
        let frame = try Fixtures.batchFrame([Fixtures.visit])
        let good = try Frame.parseDatagram(frame, limits: .standard)
        #expect(try BatchDecoder().decode(good, receivedMs: Fixtures.receivedMs).beacons == [Fixtures.visit])

        let short = frame.getSlice(at: 0, length: frame.readableBytes - 3)!
        #expect(throws: FrameError.lengthMismatch(declared: frame.readableBytes, actual: frame.readableBytes - 3)) {
            try Frame.parseDatagram(short, limits: .standard)
        }
        var long = frame
        long.writeBytes([0, 0])
        #expect(throws: FrameError.lengthMismatch(declared: frame.readableBytes, actual: frame.readableBytes + 2)) {
            try Frame.parseDatagram(long, limits: .standard)
        }
        #expect(throws: FrameError.lengthMismatch(declared: FrameHeader.byteCount, actual: 5)) {
            try Frame.parseDatagram(frame.getSlice(at: 0, length: 5)!, limits: .standard)
        }
    }

    // MARK: Frame-level: the frame is refused, the stream goes on

    @Test func headerFieldsAreChecked() throws {
        let payload = try Fixtures.serialized([Fixtures.visit])
        try expectRefused(Fixtures.rawFrame(payload: payload, type: 9), .unknownType(9))
        try expectRefused(Fixtures.rawFrame(payload: payload, type: FrameType.ack.rawValue), .unknownType(2))
        try expectRefused(Fixtures.rawFrame(payload: payload, flags: 0b110), .unsupportedFlags(0b110))
        try expectRefused(Fixtures.rawFrame(payload: payload, reserved: [0, 1, 0]), .reservedNotZero)
        try expectRefused(
            Fixtures.rawFrame(payload: payload, rawLength: UInt32(payload.count + 1)),
            .lengthMismatch(declared: payload.count + 1, actual: payload.count)
        )
    }

    @Test func checksumMismatchIsRefused() throws {
        let payload = try Fixtures.serialized([Fixtures.visit])
        var frame = Fixtures.rawFrame(payload: payload)
        let good = frame.getInteger(at: 24, as: UInt32.self)!
        frame.setInteger(good ^ 1, at: 24)
        try expectRefused(frame, .checksumMismatch(declared: good ^ 1, actual: good))
        var flipped = Fixtures.rawFrame(payload: payload)
        flipped.setInteger(flipped.getInteger(at: 40, as: UInt8.self)! ^ 0x10, at: 40)
        #expect(throws: FrameError.self) { try decodeBatch(flipped) }
    }

    @Test func decompressionBombIsStoppedAtTheDeclaredSize() throws {
        // 64 MiB of zeros deflate to about 64 KB; the header claims 1000 bytes.
        let bomb = Fixtures.deflated([UInt8](repeating: 0, count: 64 << 20))
        let frame = Fixtures.rawFrame(payload: bomb, flags: FrameFlags.zlib.rawValue, rawLength: 1000)
        try expectRefused(frame, .inflatedTooLarge(bytes: 1001, max: 1000))
    }

    @Test func declaredInflatedSizeOverTheLimitIsRefusedWithoutInflating() throws {
        let limits = WireLimits(inflatedBytesMax: 4096)
        let payload = Fixtures.deflated([UInt8](repeating: 0, count: 100))
        let frame = Fixtures.rawFrame(payload: payload, flags: FrameFlags.zlib.rawValue, rawLength: 4097)
        try expectRefused(frame, .inflatedTooLarge(bytes: 4097, max: 4096), limits: limits)
    }

    @Test func inflatedSizeMustMatchTheHeader() throws {
        let raw = try Fixtures.serialized([Fixtures.visit])
        let deflated = Fixtures.deflated(raw)
        let zlib = FrameFlags.zlib.rawValue
        try expectRefused(
            Fixtures.rawFrame(payload: deflated, flags: zlib, rawLength: UInt32(raw.count + 5)),
            .lengthMismatch(declared: raw.count + 5, actual: raw.count)
        )
        try expectRefused(
            Fixtures.rawFrame(payload: deflated, flags: zlib, rawLength: UInt32(raw.count - 5)),
            .inflatedTooLarge(bytes: raw.count - 4, max: raw.count - 5)
        )
    }

    @Test func corruptCompressionIsRefused() throws {
        let raw = try Fixtures.serialized([Fixtures.visit])
        var deflated = Fixtures.deflated(raw)
        let zlib = FrameFlags.zlib.rawValue
        let cut = Array(deflated.dropLast(6))
        #expect(throws: FrameError.corruptCompression("zlib stream ends early")) {
            try decodeBatch(Fixtures.rawFrame(payload: cut, flags: zlib, rawLength: UInt32(raw.count)))
        }
        deflated[0] = 0x00  // not a zlib header
        let error = #expect(throws: FrameError.self) {
            try decodeBatch(Fixtures.rawFrame(payload: deflated, flags: zlib, rawLength: UInt32(raw.count)))
        }
        #expect(error?.code == "corrupt_compression")
        let trailing = Fixtures.deflated(raw) + [1, 2, 3]
        #expect(throws: FrameError.corruptCompression("3 bytes after the end of the zlib stream")) {
            try decodeBatch(Fixtures.rawFrame(payload: trailing, flags: zlib, rawLength: UInt32(raw.count)))
        }
    }

    @Test func garbageProtobufIsRefused() throws {
        // Field 1, length-delimited, claiming 100 bytes with 2 present.
        let error = #expect(throws: FrameError.self) { try decodeBatch(Fixtures.rawFrame(payload: [0x0A, 100, 1, 2])) }
        #expect(error?.code == "malformed_payload")
        let wireType = #expect(throws: FrameError.self) { try decodeBatch(Fixtures.rawFrame(payload: [0x0B, 0x0C])) }
        #expect(wireType?.code == "malformed_payload")
        let beaconGarbage = #expect(throws: FrameError.self) {
            try decodeBatch(Fixtures.rawFrame(payload: [0x0A, 3, 0xFF, 0xFF, 0xFF]))
        }
        #expect(beaconGarbage?.code == "malformed_payload")
    }

    @Test func tooManyBeaconsAreRefusedBeforeDecoding() throws {
        let limits = WireLimits(batchBeaconsMax: 8)
        let beacons = Array(repeating: Fixtures.visit, count: 9)
        let frame = Fixtures.rawFrame(payload: try Fixtures.serialized(beacons))
        try expectRefused(frame, .tooManyBeacons(count: 9, max: 8), limits: limits)
        #expect(try decodeBatch(Fixtures.rawFrame(payload: try Fixtures.serialized(Array(beacons.prefix(8)))), limits: limits)
            .beacons.count == 8)
    }

    @Test func emptyBatchIsRefused() throws {
        try expectRefused(Fixtures.rawFrame(payload: []), .emptyBatch)
    }

    @Test func streamStaysInSyncAfterARefusedFrame() throws {
        var stream = Fixtures.rawFrame(payload: [0x0A, 100, 1, 2], sequence: 1)  // garbage payload
        var second = try Fixtures.batchFrame([Fixtures.visit], sequence: 2, compressed: true)
        stream.writeBuffer(&second)
        let (frames, streamError) = decodeStream(stream, chunks: [7])
        #expect(streamError == nil)
        try #require(frames.count == 2)
        let decoder = BatchDecoder()
        #expect(throws: FrameError.self) { try decoder.decode(frames[0], receivedMs: Fixtures.receivedMs) }
        #expect(try decoder.decode(frames[1], receivedMs: Fixtures.receivedMs).beacons == [Fixtures.visit], "the decoder recovers after an error")
    }

    private func expectRefused(
        _ frame: ByteBuffer,
        _ expected: FrameError,
        limits: WireLimits = .standard,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(throws: expected, sourceLocation: sourceLocation) { try decodeBatch(frame, limits: limits) }
        #expect(!expected.closesStream, sourceLocation: sourceLocation)
    }
}
