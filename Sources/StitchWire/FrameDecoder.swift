import NIOCore

/// Splits a TCP byte stream into frames, in the style of NIO's
/// `LengthFieldBasedFrameDecoder`: it reads the header in place, checks the
/// declared length against `frameBytesMax` before waiting for that many bytes,
/// and takes the frame with `readSlice` only once all of it is there. A partial
/// frame is never consumed.
///
/// Only stream-level errors are thrown (`FrameError.closesStream`); every other
/// problem is left to the receiver of the whole `Frame`, which can answer it
/// and go on with the next frame.
///
/// Use it as a `ByteToMessageHandler` in a channel pipeline, or through
/// `NIOSingleStepByteToMessageProcessor` where there is no channel.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    /// Each whole frame is passed on.
    public typealias InboundOut = Frame

    /// `frameBytesMax` bounds what the decoder waits for.
    public let limits: WireLimits

    public init(limits: WireLimits = .standard) {
        self.limits = limits
    }

    /// The next whole frame, or `nil` until all its bytes are there.
    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let header = try FrameHeader.peek(in: buffer, limits: limits) else { return nil }
        guard buffer.readableBytes >= FrameHeader.byteCount + Int(header.length) else { return nil }
        buffer.moveReaderIndex(forwardBy: FrameHeader.byteCount)
        let payload = buffer.readSlice(length: Int(header.length))!
        return Frame(header: header, payload: payload)
    }

    /// At end of stream: the last whole frame, if any.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        // A frame cut short by EOF is dropped: its sender got no ack for it.
        try decode(buffer: &buffer)
    }
}
