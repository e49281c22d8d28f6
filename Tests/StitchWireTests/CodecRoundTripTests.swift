import NIOCore
import StitchWire
import SwiftProtobuf
import Testing

@Suite struct CodecRoundTripTests {
    static let bodyNames = Fixtures.beaconsByBody.map(\.name)

    @Test(arguments: bodyNames, [false, true])
    func everyBodyTypeRoundTrips(body: String, compressed: Bool) throws {
        let beacon = try #require(Fixtures.beaconsByBody.first { $0.name == body }?.beacon)
        let frame = try Fixtures.batchFrame([beacon, beacon], sequence: 77, compressed: compressed)
        let batch = try decodeBatch(frame)
        #expect(batch.sequence == 77)
        #expect(batch.beacons == [beacon, beacon])
        #expect(batch.rejections.isEmpty)
    }

    @Test func allBodiesInOneCompressedBatch() throws {
        let beacons = Fixtures.beaconsByBody.map(\.beacon)
        let frame = try Fixtures.batchFrame(beacons, sequence: UInt64.max, compressed: true)
        let batch = try decodeBatch(frame)
        #expect(batch.sequence == UInt64.max)
        #expect(batch.beacons == beacons)
    }

    @Test func compressionShrinksATypicalBatch() throws {
        let beacons = Array(repeating: Fixtures.visit, count: 50)
        let plain = try Fixtures.batchFrame(beacons, compressed: false)
        let compressed = try Fixtures.batchFrame(beacons, compressed: true)
        #expect(compressed.readableBytes * 4 < plain.readableBytes)
    }

    @Test func repliesRoundTrip() throws {
        let encoder = FrameEncoder()
        let decoder = PayloadDecoder()
        var stream = ByteBuffer()
        let sentAck = Stitch_V1_BatchAck.with {
            $0.accepted = 1
            $0.rejected = 1
            $0.rejections = [BeaconRejection(index: 1, reason: .missingSite, detail: "site is 0").wireMessage]
        }
        try encoder.encode(sentAck, type: .ack, sequence: 5, into: &stream)
        try encoder.encode(FrameError.emptyBatch.wireMessage, type: .error, sequence: 6, into: &stream)
        let request = Stitch_V1_Request.with { $0.requestID = 9; $0.stats = .init() }
        try encoder.encode(request, type: .request, sequence: 9, compressed: true, into: &stream)

        let (frames, streamError) = decodeStream(stream, chunks: [stream.readableBytes])
        #expect(streamError == nil)
        try #require(frames.count == 3)
        let ack = try decoder.decode(frames[0], as: Stitch_V1_BatchAck.self, expecting: .ack)
        #expect(ack.accepted == 1 && ack.rejected == 1)
        #expect(ack.rejections.first?.reason == .missingSite)
        let error = try decoder.decode(frames[1], as: Stitch_V1_FrameError.self, expecting: .error)
        #expect(error.code == .emptyBatch && !error.closing)
        #expect(try decoder.decode(frames[2], as: Stitch_V1_Request.self, expecting: .request) == request)
    }

    @Test func encoderRefusesFramesOverTheLimits() throws {
        let limits = WireLimits(frameBytesMax: 64, inflatedBytesMax: 256)
        let beacons = Array(repeating: Fixtures.visit, count: 10)
        #expect(throws: FrameError.self) { try Fixtures.batchFrame(beacons, limits: limits) }
        var buffer = ByteBuffer()
        let bytes = [UInt8](repeating: 7, count: 200)
        // 200 bytes fit inflated but not as a 64-byte frame uncompressed…
        #expect(throws: FrameError.frameTooLarge(length: 200, max: 64)) {
            try bytes.withUnsafeBytes { try FrameEncoder(limits: limits).encode(payload: $0, type: .batch, sequence: 1, into: &buffer) }
        }
        #expect(buffer.readableBytes == 0, "a refused frame leaves nothing behind")
        // …and do fit once compressed.
        try bytes.withUnsafeBytes {
            try FrameEncoder(limits: limits).encode(payload: $0, type: .batch, sequence: 1, compressed: true, into: &buffer)
        }
        #expect(buffer.readableBytes < FrameHeader.byteCount + 64)
    }
}
