/// Why a frame was refused. Each case maps to a `FrameErrorCode` sent back in
/// an ERROR frame on TCP and to a `code` label counted in metrics.
///
/// The first three cases are fatal for a byte stream (`closesStream`): after
/// them the receiver cannot tell where the next frame starts, so a TCP
/// connection is answered and closed. After any other case the frame's bytes
/// are skipped and the stream goes on.
public enum FrameError: Error, Hashable, Sendable {
    /// The first two bytes are not "ST".
    case badMagic(UInt16)
    /// A version this server does not speak.
    case unsupportedVersion(UInt8)
    /// The declared payload length is over `frameBytesMax`.
    case frameTooLarge(length: Int, max: Int)
    /// A type byte this server does not know, or one not expected here (an ACK
    /// sent to the collector).
    case unknownType(UInt8)
    /// A flag bit this version does not know.
    case unsupportedFlags(UInt8)
    /// The reserved header bytes are not zero.
    case reservedNotZero
    /// The payload inflates (or says it inflates) to more than `inflatedBytesMax`,
    /// or to more than its header declared: a decompression bomb or a lie.
    case inflatedTooLarge(bytes: Int, max: Int)
    /// Sizes disagree: `rawLength` against the real or inflated payload, or a
    /// datagram against the frame it holds.
    case lengthMismatch(declared: Int, actual: Int)
    /// The payload's CRC-32 is not the one in the header.
    case checksumMismatch(declared: UInt32, actual: UInt32)
    /// The zlib stream is corrupt or cut short.
    case corruptCompression(String)
    /// The payload is not a valid protobuf message of the expected type.
    case malformedPayload(String)
    /// More beacons than `batchBeaconsMax`.
    case tooManyBeacons(count: Int, max: Int)
    /// A batch with no beacons.
    case emptyBatch
    /// A batch with sequence 0, which ERROR frames use for "header unreadable",
    /// so its answer could not be told from one.
    case badSequence
    /// A site of the batch has spent its beacons-per-second budget (the
    /// server's `site_beacons_per_second`): nothing of the batch is stored;
    /// the client backs off and resends it.
    /// `retryAfterMs`: when the site's budget has room again.
    case overQuota(site: UInt32, beaconsPerSecond: Int, retryAfterMs: Int)

    /// Whether the byte stream is out of sync after this error.
    public var closesStream: Bool {
        switch self {
        case .badMagic, .unsupportedVersion, .frameTooLarge: true
        default: false
        }
    }

    /// Which case, without its details: the stable snake_case labels of
    /// metrics (`frames_rejected_total{reason=…}`), every one known up front
    /// (`allCases`) so metrics are declared before the first error.
    public enum Kind: String, CaseIterable, Sendable {
        case badMagic = "bad_magic"
        case unsupportedVersion = "unsupported_version"
        case frameTooLarge = "frame_too_large"
        case unknownType = "unknown_type"
        case unsupportedFlags = "unsupported_flags"
        case reservedNotZero = "reserved_not_zero"
        case inflatedTooLarge = "inflated_too_large"
        case lengthMismatch = "length_mismatch"
        case checksumMismatch = "checksum_mismatch"
        case corruptCompression = "corrupt_compression"
        case malformedPayload = "malformed_payload"
        case tooManyBeacons = "too_many_beacons"
        case emptyBatch = "empty_batch"
        case badSequence = "bad_sequence"
        case overQuota = "over_quota"
    }

    public var kind: Kind {
        switch self {
        case .badMagic: .badMagic
        case .unsupportedVersion: .unsupportedVersion
        case .frameTooLarge: .frameTooLarge
        case .unknownType: .unknownType
        case .unsupportedFlags: .unsupportedFlags
        case .reservedNotZero: .reservedNotZero
        case .inflatedTooLarge: .inflatedTooLarge
        case .lengthMismatch: .lengthMismatch
        case .checksumMismatch: .checksumMismatch
        case .corruptCompression: .corruptCompression
        case .malformedPayload: .malformedPayload
        case .tooManyBeacons: .tooManyBeacons
        case .emptyBatch: .emptyBatch
        case .badSequence: .badSequence
        case .overQuota: .overQuota
        }
    }

    /// Stable snake_case label for metrics: `kind`'s raw value.
    public var code: String { kind.rawValue }

    /// Every `code`, for metrics declared before the first error.
    public static let codes: [String] = Kind.allCases.map(\.rawValue)

    /// The code sent to the client in an ERROR frame.
    public var wireCode: Stitch_V1_FrameErrorCode {
        switch self {
        case .badMagic: .badMagic
        case .unsupportedVersion: .unsupportedVersion
        case .frameTooLarge: .frameTooLarge
        case .unknownType: .unknownType
        case .unsupportedFlags: .unsupportedFlags
        case .reservedNotZero: .reservedNotZero
        case .inflatedTooLarge: .inflatedTooLarge
        case .lengthMismatch: .lengthMismatch
        case .checksumMismatch: .checksumMismatch
        case .corruptCompression: .corruptCompression
        case .malformedPayload: .malformedPayload
        case .tooManyBeacons: .tooManyBeacons
        case .emptyBatch: .emptyBatch
        case .badSequence: .badSequence
        case .overQuota: .overQuota
        }
    }

    /// The ERROR frame payload that reports this error.
    public var wireMessage: Stitch_V1_FrameError {
        .with {
            $0.code = wireCode
            $0.message = description
            $0.closing = closesStream
        }
    }
}

extension FrameError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .badMagic(let magic):
            "bad magic 0x\(String(magic, radix: 16)), expected 0x5354 (\"ST\")"
        case .unsupportedVersion(let version): "unsupported frame version \(version), expected 1"
        case .frameTooLarge(let length, let max): "frame payload of \(length) bytes is over the limit of \(max)"
        case .unknownType(let type): "unknown or unexpected frame type \(type)"
        case .unsupportedFlags(let flags): "unsupported flags 0b\(String(flags, radix: 2))"
        case .reservedNotZero: "reserved header bytes are not zero"
        case .inflatedTooLarge(let bytes, let max):
            "payload inflates to \(bytes) bytes or more, over the limit of \(max) or its declared size"
        case .lengthMismatch(let declared, let actual): "declared \(declared) bytes but found \(actual)"
        case .checksumMismatch(let declared, let actual):
            "payload CRC-32 is 0x\(String(actual, radix: 16)), header says 0x\(String(declared, radix: 16))"
        case .corruptCompression(let detail): "corrupt zlib payload: \(detail)"
        case .malformedPayload(let detail): "malformed protobuf payload: \(detail)"
        case .tooManyBeacons(let count, let max): "\(count) beacons in one batch, over the limit of \(max)"
        case .emptyBatch: "batch holds no beacons"
        case .badSequence: "batch sequence 0 is reserved (ERROR frames use it for an unreadable header); number batches from 1"
        case .overQuota(let site, let budget, let retryAfterMs):
            "site \(site) is over its budget of \(budget) beacons/s; nothing of this batch is stored: resend it in \(retryAfterMs) ms or later"
        }
    }
}
