import NIOCore
import SwiftProtobuf

/// Writes frames: header, payload (zlib-compressed on request) and checksum.
/// Used by the server for acks, errors and responses and by clients (the load
/// harness, the CLI, tests). Holds a reused zlib stream: one per connection.
public final class FrameEncoder {
    /// Frames over these limits are refused before they are sent.
    public let limits: WireLimits
    private let compressionLevel: Int32
    /// Made on first use: a deflate stream holds ~256 KiB, and most encoders
    /// (acks, errors, query frames) never compress.
    private lazy var deflater = ZlibDeflater(level: compressionLevel)

    /// - Parameter compressionLevel: zlib level 1 to 9 for compressed frames.
    public init(limits: WireLimits = .standard, compressionLevel: Int32 = 6) {
        self.limits = limits
        self.compressionLevel = compressionLevel
    }

    /// Appends one frame holding `message` to `buffer`.
    ///
    /// - Throws: `frameTooLarge` or `inflatedTooLarge` when the frame would
    ///   break the limits its receiver enforces; `buffer` is then unchanged.
    public func encode(
        _ message: some Message,
        type: FrameType,
        sequence: UInt64,
        compressed: Bool = false,
        into buffer: inout ByteBuffer
    ) throws(FrameError) {
        let bytes: [UInt8]
        do {
            bytes = try message.serializedBytes()
        } catch {
            // proto3 messages have no required fields, so this cannot happen.
            preconditionFailure("protobuf serialization failed: \(error)")
        }
        try bytes.span.withUnsafeBytes { (raw) throws(FrameError) in
            try encode(payload: raw, type: type, sequence: sequence, compressed: compressed, into: &buffer)
        }
    }

    /// Appends one frame holding already serialized `payload` bytes.
    public func encode(
        payload: UnsafeRawBufferPointer,
        type: FrameType,
        sequence: UInt64,
        compressed: Bool = false,
        into buffer: inout ByteBuffer
    ) throws(FrameError) {
        guard payload.count <= limits.inflatedBytesMax else {
            throw .inflatedTooLarge(bytes: payload.count, max: limits.inflatedBytesMax)
        }
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: FrameHeader.byteCount)
        let length = compressed ? deflater.deflate(payload, into: &buffer) : buffer.writeBytes(payload)
        guard length <= limits.frameBytesMax else {
            buffer.moveWriterIndex(to: start)
            throw .frameTooLarge(length: length, max: limits.frameBytesMax)
        }
        let checksum = buffer.getSlice(at: start + FrameHeader.byteCount, length: length)!
            .withUnsafeReadableBytes { CRC32.checksum($0) }
        let header = FrameHeader(
            type: type,
            flags: compressed ? .zlib : [],
            sequence: sequence,
            length: UInt32(length),
            rawLength: UInt32(payload.count),
            checksum: checksum
        )
        header.set(in: &buffer, at: start)
    }
}
