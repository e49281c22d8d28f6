// libFuzzer target for the frame decoder. Each input is used three ways:
// 1. as a byte stream, fed to the stream decoder whole and one byte at a time
//    (the two must agree), each frame going through the batch decoder, and
//    as one UDP datagram;
// 2. "repaired": the first 28 bytes become a header whose magic, version,
//    lengths and CRC-32 fit the rest, so mutations reach zlib and protobuf
//    decoding instead of dying at the checksum;
// 3. as a protobuf payload, framed plain and zlib-compressed by the encoder;
// 4. as text, normalized as every identifier kind (idempotence checked), as
//    are the identifiers of every beacon decoded above: normalization runs on
//    every identifier from the network, so a trap there would stop the writer.
// Crashes, hangs, broken limits and disagreements are findings.
//
// Built by ops/fuzz-frames.sh with `-sanitize=fuzzer -DFUZZING`. Without
// FUZZING it builds as a replayer: `stitch-fuzz-frames FILE…` runs the same
// check on saved inputs (crash reproducers, the corpus).
import NIOCore
import StitchIdentity
import StitchWire

/// Small limits so the fuzzer reaches every limit check quickly.
let fuzzLimits = WireLimits(frameBytesMax: 4096, inflatedBytesMax: 16384, batchBeaconsMax: 64)
/// The collector's clock for device-clock batches: fixed, so a run replays exactly.
let fuzzReceivedMs: Int64 = 1_790_000_000_000

/// libFuzzer calls this with each input; returning 0 means "keep going".
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let whole = decodeAll(ByteBuffer(bytes: bytes), chunk: count)
    let dripped = decodeAll(ByteBuffer(bytes: bytes), chunk: 1)
    precondition(whole == dripped, "decoding whole and byte by byte disagree: \(whole) vs \(dripped)")
    // The same bytes as one UDP datagram.
    if let frame = try? Frame.parseDatagram(ByteBuffer(bytes: bytes), limits: fuzzLimits) {
        _ = try? BatchDecoder(limits: fuzzLimits).decode(frame, receivedMs: fuzzReceivedMs)
    }
    if let repaired = repairedFrame(bytes) {
        let frame = try! Frame.parseDatagram(repaired, limits: fuzzLimits)
        normalizeIdentifiers(of: try? BatchDecoder(limits: fuzzLimits).decode(frame, receivedMs: fuzzReceivedMs))
    }
    for compressed in [false, true] {
        var framed = ByteBuffer()
        guard (try? FrameEncoder(limits: fuzzLimits).encode(
            payload: bytes, type: .batch, sequence: 1, compressed: compressed, into: &framed
        )) != nil else { continue }
        let frame = try! Frame.parseDatagram(framed, limits: fuzzLimits)
        normalizeIdentifiers(of: try? BatchDecoder(limits: fuzzLimits).decode(frame, receivedMs: fuzzReceivedMs))
    }
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes.prefix(512)), as: UTF8.self)
    for kind in IdentifierKind.allCases {
        checkNormalization(kind, text, namespace: nil)
    }
    return 0
}

/// Normalizes `raw`; a value that normalizes must normalize to itself again.
func checkNormalization(_ kind: IdentifierKind, _ raw: String, namespace: String?) {
    let normalizer = IdentifierNormalizer()
    guard let once = try? normalizer.normalize(kind, raw, namespace: namespace) else { return }
    let twice = try? normalizer.normalize(kind, once.value)
    precondition(twice == once, "normalization of \(kind.name) \"\(raw)\" is not idempotent")
}

func normalizeIdentifiers(of batch: DecodedBatch?) {
    for beacon in batch?.beacons ?? [] {
        for identifier in beacon.identifiers {
            guard let kind = IdentifierKind(rawValue: UInt8(clamping: identifier.kind.rawValue)) else { continue }
            checkNormalization(kind, identifier.value, namespace: identifier.namespace)
        }
    }
}

/// The input with a consistent header: right magic and version, `length` and
/// `checksum` computed from the payload, `rawLength` computed when the
/// payload is not compressed (and left to the fuzzer when it is).
func repairedFrame(_ bytes: UnsafeRawBufferPointer) -> ByteBuffer? {
    guard bytes.count >= FrameHeader.byteCount else { return nil }
    var buffer = ByteBuffer(bytes: bytes)
    let payloadBytes = bytes.count - FrameHeader.byteCount
    guard payloadBytes <= fuzzLimits.frameBytesMax else { return nil }
    buffer.setInteger(FrameHeader.magic, at: 0)
    buffer.setInteger(FrameHeader.version, at: 2)
    buffer.setInteger(UInt32(payloadBytes), at: 16)
    if buffer.getInteger(at: 4, as: UInt8.self)! & FrameFlags.zlib.rawValue == 0 {
        buffer.setInteger(UInt32(payloadBytes), at: 20)
    }
    let payload = UnsafeRawBufferPointer(rebasing: bytes[FrameHeader.byteCount...])
    buffer.setInteger(CRC32.checksum(payload), at: 24)
    return buffer
}

/// One line per frame or error, so two runs can be compared.
func decodeAll(_ input: ByteBuffer, chunk: Int) -> [String] {
    var results: [String] = []
    let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limits: fuzzLimits))
    let batches = BatchDecoder(limits: fuzzLimits)
    var rest = input
    do {
        while rest.readableBytes > 0 {
            let piece = rest.readSlice(length: min(max(chunk, 1), rest.readableBytes))!
            try processor.process(buffer: piece) { frame in
                do throws(FrameError) {
                    let batch = try batches.decode(frame, receivedMs: fuzzReceivedMs)
                    precondition(batch.beacons.count + batch.rejections.count <= fuzzLimits.batchBeaconsMax)
                    results.append("batch \(batch.sequence) \(batch.beacons.count)+\(batch.rejections.count)")
                } catch {
                    results.append("frame error \(error.code)")
                }
            }
        }
    } catch let error as FrameError {
        precondition(error.closesStream, "a non-fatal error was thrown by the stream decoder: \(error)")
        results.append("stream error \(error.code)")
    } catch {
        preconditionFailure("untyped error \(error)")
    }
    return results
}

#if !FUZZING
import Foundation

@main
enum Replay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print("usage: stitch-fuzz-frames FILE…  (replays saved fuzzer inputs)")
            return
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                continue
            }
            _ = [UInt8](data).withUnsafeBytes { fuzzFrames($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) }
            print("ok \(path)")
        }
    }
}
#endif
