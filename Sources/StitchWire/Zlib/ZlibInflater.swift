import CZlib

/// Inflates zlib streams (RFC 1950) with one reused `z_stream`, so decoding a
/// frame costs an `inflateReset`, not an allocation of zlib's 7 KB state and
/// 32 KB window.
///
/// The output size is capped before inflating starts: the caller passes the
/// size the header declared (already checked against `inflatedBytesMax`), and
/// the inflater writes into a buffer one byte larger. Output that reaches the
/// extra byte means the stream inflates to more than declared, and inflating
/// stops there: a decompression bomb costs the declared size, never more.
///
/// Not thread-safe: one per event loop or connection.
public final class ZlibInflater {
    private var stream = z_stream()
    /// Inflated bytes of the last call; reused between calls.
    public private(set) var output: [UInt8] = []

    public init() {
        let status = inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        // Fails only without memory or with a mismatched zlib build: no way on.
        precondition(status == Z_OK, "inflateInit failed: \(status)")
    }

    deinit {
        inflateEnd(&stream)
    }

    /// Output kept between calls; a larger buffer (grown for one big frame)
    /// is released after its frame, so an idle connection holds little.
    public static let retainedBytesMax = 64 << 10

    /// Inflates `input`, which must hold one whole zlib stream of exactly
    /// `expectedBytes` inflated bytes and nothing after it. The result is in
    /// `output[0..<expectedBytes]`.
    ///
    /// The output buffer grows with what zlib actually produces (doubling
    /// from 64 KiB), never to the declared size up front: a 38-byte frame
    /// that declares 4 MiB costs what it inflates to, not 4 MiB.
    public func inflate(_ input: UnsafeRawBufferPointer, expectedBytes: Int) throws(FrameError) {
        precondition(expectedBytes >= 0)
        guard inflateReset(&stream) == Z_OK else { preconditionFailure("inflateReset on a live stream") }
        let capacity = expectedBytes + 1
        var size = min(capacity, max(output.count, Self.retainedBytesMax))
        if output.count < size { output = [UInt8](repeating: 0, count: size) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = UInt32(input.count)
        var produced = 0
        var status: Int32
        while true {
            status = output.withUnsafeMutableBytes { out in
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                stream.avail_out = UInt32(size - produced)
                let status = CZlib.inflate(&stream, Z_FINISH)
                produced = size - Int(stream.avail_out)
                return status
            }
            // Out of room before the end of the stream: grow, up to the cap.
            guard status == Z_BUF_ERROR || status == Z_OK, stream.avail_out == 0, size < capacity else { break }
            size = min(capacity, size * 2)
            output.append(contentsOf: repeatElement(0, count: size - output.count))
        }
        let inputLeft = Int(stream.avail_in)
        stream.next_in = nil
        stream.next_out = nil
        if produced > expectedBytes {
            throw .inflatedTooLarge(bytes: produced, max: expectedBytes)
        }
        switch status {
        case Z_STREAM_END:
            guard produced == expectedBytes else {
                throw .lengthMismatch(declared: expectedBytes, actual: produced)
            }
            guard inputLeft == 0 else {
                throw .corruptCompression("\(inputLeft) bytes after the end of the zlib stream")
            }
        case Z_BUF_ERROR, Z_OK:
            throw .corruptCompression("zlib stream ends early")
        default:
            throw .corruptCompression(Self.message(status, stream.msg))
        }
    }

    /// Runs `body` on the first `count` bytes inflated by the last call.
    public func withOutput<R>(
        count: Int,
        _ body: (UnsafeRawBufferPointer) throws(FrameError) -> R
    ) throws(FrameError) -> R {
        precondition(count <= output.count, "asked for more than was inflated")
        let inflated = output  // a local reference, so the span's lifetime is plain
        // A buffer grown for one big frame goes once that frame is decoded.
        defer { if output.count > Self.retainedBytesMax { output = [] } }
        return try inflated.span.extracting(0..<count).withUnsafeBytes { (bytes) throws(FrameError) in
            try body(bytes)
        }
    }

    private static func message(_ status: Int32, _ text: UnsafePointer<CChar>?) -> String {
        let detail = text.map { String(cString: $0) } ?? "no detail"
        return "zlib error \(status) (\(detail))"
    }
}
