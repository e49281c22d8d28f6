import Foundation
import NIOCore
import StitchWire
import SwiftProtobuf
import Testing

/// The frames in proto/golden/ were built by ops/make-golden-vectors.py from
/// FRAMING.md alone; decoding them to exactly the messages in the .txtpb files
/// beside them proves the Swift codec and the written contract agree.
@Suite struct GoldenVectorTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proto/golden")

    static let names = ["visit-plain", "journey-compressed", "ack", "error", "lookup-request"]

    struct Expectation {
        var type: String
        var sequence: UInt64
        var compressed: Bool
        var message: String
    }

    @Test(arguments: names)
    func decodesToDocumentedMeaning(name: String) throws {
        let hexText = try String(contentsOf: Self.goldenDirectory.appendingPathComponent("\(name).hex"), encoding: .utf8)
        let text = try String(contentsOf: Self.goldenDirectory.appendingPathComponent("\(name).txtpb"), encoding: .utf8)
        let expect = try #require(Self.expectation(in: hexText))
        let bytes = try HexCoding.bytes(fromHex: hexText)

        let (frames, streamError) = decodeStream(ByteBuffer(bytes: bytes), chunks: [bytes.count])
        #expect(streamError == nil)
        let frame = try #require(frames.first)
        #expect(frames.count == 1)
        #expect(frame.header.type.map { "\($0)" } == expect.type)
        #expect(frame.header.sequence == expect.sequence)
        #expect(frame.header.flags.contains(.zlib) == expect.compressed)

        let decoder = PayloadDecoder()
        switch expect.message {
        case "stitch.v1.BeaconBatch":
            let decoded = try decoder.decode(frame, as: Stitch_V1_BeaconBatch.self, expecting: .batch)
            #expect(decoded == (try Stitch_V1_BeaconBatch(textFormatString: text)))
            let batch = try BatchDecoder().decode(frame, receivedMs: Fixtures.receivedMs)
            #expect(batch.rejections == [], "golden batches are valid")
        case "stitch.v1.BatchAck":
            #expect(try decoder.decode(frame, as: Stitch_V1_BatchAck.self, expecting: .ack)
                == Stitch_V1_BatchAck(textFormatString: text))
        case "stitch.v1.FrameError":
            #expect(try decoder.decode(frame, as: Stitch_V1_FrameError.self, expecting: .error)
                == Stitch_V1_FrameError(textFormatString: text))
        case "stitch.v1.Request":
            let request = try decoder.decode(frame, as: Stitch_V1_Request.self, expecting: .request)
            #expect(request == (try Stitch_V1_Request(textFormatString: text)))
            #expect(request.requestID == frame.header.sequence, "FRAMING.md: sequence = request id")
        default:
            Issue.record("no check for \(expect.message)")
        }
    }

    @Test func everyGoldenFileIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.goldenDirectory.path)
        let hexNames = Set(files.filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) })
        #expect(hexNames == Set(Self.names))
    }

    /// Reads the `# expect: type=… sequence=… compressed=… message=…` line.
    static func expectation(in hexText: String) -> Expectation? {
        guard let line = hexText.split(separator: "\n").first(where: { $0.hasPrefix("# expect:") }) else { return nil }
        var fields: [String: String] = [:]
        for pair in line.dropFirst("# expect:".count).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let type = fields["type"], let sequence = fields["sequence"].flatMap({ UInt64($0) }),
            let message = fields["message"]
        else { return nil }
        return Expectation(type: type, sequence: sequence, compressed: fields["compressed"] == "true", message: message)
    }
}
