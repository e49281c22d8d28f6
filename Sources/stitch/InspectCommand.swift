import ArgumentParser
import Foundation
import NIOCore
import StitchWire
import SwiftProtobuf

/// `stitch inspect FILE`: decodes frames the way the server does and shows
/// what it would make of them. For client authors checking their encoder.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Decode a file of frames (binary or hex) and print what the server would see.",
        discussion: """
            Reads one or more frames back to back (a TCP stream capture, a UDP datagram, \
            or a hex file as in proto/golden/) and prints each header, the decoded \
            message in protobuf text format, and every error the server would answer. \
            Exits 1 if any frame is refused.

            Example: stitch inspect proto/golden/visit-compressed.hex
            """
    )

    @Argument(help: "A file of frames; '-' reads standard input. Hex text is detected.")
    var file: String

    @Flag(help: "Treat the input as binary even if it looks like hex.")
    var binary = false

    func run() throws {
        let bytes = try readInput()
        var failed = false
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        let payloadDecoder = PayloadDecoder()
        let batchDecoder = BatchDecoder()
        var count = 0
        do {
            try processor.process(buffer: ByteBuffer(bytes: bytes)) { frame in
                count += 1
                failed = !show(frame, number: count, payloadDecoder, batchDecoder) || failed
            }
            try processor.finishProcessing(seenEOF: true) { _ in }
        } catch let error as FrameError {
            print("stream error after \(count) frame(s): \(error) [\(error.code)]")
            failed = true
        }
        if processor.unprocessedBytes > 0 {
            let left = processor.unprocessedBytes
            print("\(left) trailing byte(s) do not form a whole frame")
            failed = true
        }
        if failed { throw ExitCode.failure }
    }

    private func readInput() throws -> [UInt8] {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            data = contents
        }
        let raw = [UInt8](data)
        if !binary, let text = String(data: data, encoding: .utf8), let hex = try? HexCoding.bytes(fromHex: text) {
            return hex
        }
        return raw
    }

    /// Prints one frame; returns false when the server would refuse it.
    private func show(_ frame: Frame, number: Int, _ payloads: PayloadDecoder, _ batches: BatchDecoder) -> Bool {
        let h = frame.header
        let typeName = h.type.map { "\($0)" } ?? "unknown(\(h.typeByte))"
        print("frame \(number): type=\(typeName) flags=0b\(String(h.flagsByte, radix: 2)) "
            + "sequence=\(h.sequence) length=\(h.length) rawLength=\(h.rawLength) "
            + "crc32=0x\(String(h.checksum, radix: 16))")
        do throws(FrameError) {
            switch h.type {
            case .batch:
                // Device-clock times are shown re-based as if the frame arrived now.
                let decoded = try batches.decode(frame, receivedMs: Int64(Date().timeIntervalSince1970 * 1000))
                print("  \(decoded.beacons.count) beacon(s) accepted, \(decoded.rejections.count) rejected")
                if case .device(let offsetMs, _) = decoded.clock {
                    print("  device clock: times re-based by \(offsetMs) ms as if received now (device_time_ms keeps each original)")
                }
                // Accepted beacons keep batch order; name each by its index in the batch.
                let rejected = Set(decoded.rejections.map(\.index))
                let batchIndexes = (0...).lazy.filter { !rejected.contains($0) }
                for (index, beacon) in zip(batchIndexes, decoded.beacons) {
                    print("  beacon \(index):")
                    print(indent(beacon.textFormatString()))
                }
                for rejection in decoded.rejections {
                    print("  rejected beacon \(rejection.index): \(rejection.reason.rawValue): \(rejection.detail)")
                }
            case .ack: print(indent(try payloads.decode(frame, as: Stitch_V1_BatchAck.self, expecting: .ack).textFormatString()))
            case .error: print(indent(try payloads.decode(frame, as: Stitch_V1_FrameError.self, expecting: .error).textFormatString()))
            case .request: print(indent(try payloads.decode(frame, as: Stitch_V1_Request.self, expecting: .request).textFormatString()))
            case .response: print(indent(try payloads.decode(frame, as: Stitch_V1_Response.self, expecting: .response).textFormatString()))
            case nil: throw .unknownType(h.typeByte)
            }
            return true
        } catch {
            print("  refused: \(error) [\(error.code)]")
            return false
        }
    }

    private func indent(_ text: String) -> String {
        text.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
    }
}
