import NIOCore
import SwiftProtobuf

/// Turns a whole frame into its protobuf message: checks the header fields
/// the stream decoder left alone, the CRC-32, inflates when the zlib flag is
/// set (with a cap, see `ZlibInflater`) and decodes the protobuf.
///
/// Holds a reused zlib stream and output buffer, so it is not thread-safe:
/// one per event loop or connection.
public final class PayloadDecoder {
    /// The limits every frame is checked against.
    public let limits: WireLimits
    private let inflater = ZlibInflater()

    public init(limits: WireLimits = .standard) {
        self.limits = limits
    }

    /// Decodes a frame of type `expected` into `M`.
    ///
    /// - Parameter inspect: runs on the plain payload bytes before the protobuf
    ///   decoder does, for bounds that must hold before decoding (beacon count).
    public func decode<M: Message>(
        _ frame: Frame,
        as: M.Type,
        expecting expected: FrameType,
        inspect: (UnsafeRawBufferPointer) throws(FrameError) -> Void = { _ in }
    ) throws(FrameError) -> M {
        try withPlainPayload(frame, expecting: expected) { (bytes) throws(FrameError) in
            try inspect(bytes)
            return try Self.message(M.self, from: bytes)
        }
    }

    /// Checks a frame of type `expected` (header fields, CRC-32), inflates it
    /// when the zlib flag is set, and hands `body` the plain payload bytes,
    /// valid only during the call.
    public func withPlainPayload<Result>(
        _ frame: Frame,
        expecting expected: FrameType,
        _ body: (UnsafeRawBufferPointer) throws(FrameError) -> Result
    ) throws(FrameError) -> Result {
        let header = frame.header
        try header.validate(limits: limits)
        guard header.type == expected else { throw .unknownType(header.typeByte) }
        let payload = frame.payload.readableBytesSpan
        let checksum = payload.withUnsafeBytes { CRC32.checksum($0) }
        guard checksum == header.checksum else {
            throw .checksumMismatch(declared: header.checksum, actual: checksum)
        }
        guard header.flags.contains(.zlib) else {
            return try payload.withUnsafeBytes { (bytes) throws(FrameError) in try body(bytes) }
        }
        try payload.withUnsafeBytes { (bytes) throws(FrameError) in
            try inflater.inflate(bytes, expectedBytes: Int(header.rawLength))
        }
        return try inflater.withOutput(count: Int(header.rawLength)) { (bytes) throws(FrameError) in try body(bytes) }
    }

    /// Unknown fields are dropped while decoding, at every depth: they would
    /// pass no per-field limit and be stored and served again (a 4 KB frame
    /// of unknown fields once became a 4 MB stored beacon). A newer client's
    /// fields are ignored by an older server, which is what proto3 promises.
    private static let options: BinaryDecodingOptions = {
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        return options
    }()

    private static func message<M: Message>(
        _: M.Type,
        from bytes: UnsafeRawBufferPointer
    ) throws(FrameError) -> M {
        do {
            return try M(serializedBytes: RawSpan(_unsafeBytes: bytes), options: options)
        } catch {
            throw .malformedPayload(String(describing: error))
        }
    }
}
