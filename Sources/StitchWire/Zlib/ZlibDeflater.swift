import CZlib
import NIOCore

/// Compresses payloads into zlib streams (RFC 1950) with one reused
/// `z_stream`. Used by clients (the load harness, tests) and for large
/// responses. Not thread-safe: one per connection or thread.
public final class ZlibDeflater {
    private var stream = z_stream()

    /// - Parameter level: zlib level 1 (fastest) to 9 (smallest); 6 is zlib's default.
    public init(level: Int32 = 6) {
        precondition((1...9).contains(level), "zlib level must be 1...9")
        let status = deflateInit_(&stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit failed: \(status)")
    }

    deinit {
        deflateEnd(&stream)
    }

    /// Appends the compressed form of `input` to `buffer`; returns the number of
    /// bytes written.
    @discardableResult
    public func deflate(_ input: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) -> Int {
        guard deflateReset(&stream) == Z_OK else { preconditionFailure("deflateReset on a live stream") }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        return buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = UInt32(input.count)
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(bound)
            let status = CZlib.deflate(&stream, Z_FINISH)
            // deflateBound guarantees room for the whole stream in one call.
            precondition(status == Z_STREAM_END, "deflate did not finish within deflateBound: \(status)")
            stream.next_in = nil
            stream.next_out = nil
            return bound - Int(stream.avail_out)
        }
    }
}
