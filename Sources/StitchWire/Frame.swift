import NIOCore

/// One whole frame: its header and its payload bytes exactly as sent (still
/// compressed if the zlib flag is set). Only the stream-level checks of
/// `FrameHeader.peek` have been applied; see `FrameHeader.validate` and
/// `BatchDecoder` for the rest.
public struct Frame: Hashable, Sendable {
    /// The frame's header as read.
    public var header: FrameHeader
    /// The payload bytes exactly as sent.
    public var payload: ByteBuffer

    public init(header: FrameHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }

    /// Reads the one frame a UDP datagram holds. The datagram must hold
    /// exactly one frame: a short or long datagram is a `lengthMismatch`.
    public static func parseDatagram(
        _ datagram: ByteBuffer,
        limits: WireLimits
    ) throws(FrameError) -> Frame {
        guard let header = try FrameHeader.peek(in: datagram, limits: limits) else {
            throw .lengthMismatch(declared: FrameHeader.byteCount, actual: datagram.readableBytes)
        }
        let frameBytes = FrameHeader.byteCount + Int(header.length)
        guard datagram.readableBytes == frameBytes else {
            throw .lengthMismatch(declared: frameBytes, actual: datagram.readableBytes)
        }
        let payload = datagram.getSlice(
            at: datagram.readerIndex + FrameHeader.byteCount,
            length: Int(header.length)
        )!
        return Frame(header: header, payload: payload)
    }
}
