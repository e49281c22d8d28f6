/// What a frame carries (header byte 3). See `proto/FRAMING.md`.
public enum FrameType: UInt8, CaseIterable, Sendable {
    /// Client → collector: a `BeaconBatch`.
    case batch = 1
    /// Collector → client: a `BatchAck` for the batch with the same sequence.
    case ack = 2
    /// Collector → client: a `FrameError` for the frame with the same sequence.
    case error = 3
    /// Client → query server: a `Request`; the sequence is the request id.
    case request = 4
    /// Query server → client: a `Response`; the sequence is the request id.
    case response = 5
}

/// Header byte 4. Unknown bits are refused, so a future flag never gets
/// silently ignored by an old server.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    /// The flags byte.
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The payload is a zlib stream (RFC 1950) of the protobuf message.
    public static let zlib = FrameFlags(rawValue: 1 << 0)

    /// Every flag this version understands.
    public static let known: FrameFlags = [.zlib]
}
