import NIOCore

/// The fixed 28-byte header in front of every frame; all integers big-endian.
///
/// ```
/// offset size field
///      0    2 magic       "ST" (0x53 0x54)
///      2    1 version     1
///      3    1 type        FrameType
///      4    1 flags       FrameFlags (bit 0: zlib)
///      5    3 reserved    zero
///      8    8 sequence    batch sequence (ingest) or request id (query)
///     16    4 length      payload bytes that follow the header, as sent
///     20    4 rawLength   payload bytes after inflation (= length if not compressed)
///     24    4 checksum    CRC-32 (zlib/IEEE) of the payload bytes as sent
/// ```
public struct FrameHeader: Hashable, Sendable {
    /// The first two bytes of every frame.
    public static let magic: UInt16 = 0x5354  // "ST"
    /// The only version this build speaks.
    public static let version: UInt8 = 1
    /// Size of the header in bytes.
    public static let byteCount = 28

    /// The raw type byte; `FrameType(rawValue:)` may not know it.
    public var typeByte: UInt8
    /// The raw flags byte; may hold bits this version does not know.
    public var flagsByte: UInt8
    /// The three reserved bytes as one number; must be zero.
    public var reserved: UInt32
    /// Batch sequence (ingest) or request id (query).
    public var sequence: UInt64
    /// Payload bytes after the header, as sent.
    public var length: UInt32
    /// Payload bytes after inflation.
    public var rawLength: UInt32
    /// CRC-32 of the payload as sent.
    public var checksum: UInt32

    public init(
        type: FrameType,
        flags: FrameFlags,
        sequence: UInt64,
        length: UInt32,
        rawLength: UInt32,
        checksum: UInt32
    ) {
        self.typeByte = type.rawValue
        self.flagsByte = flags.rawValue
        self.reserved = 0
        self.sequence = sequence
        self.length = length
        self.rawLength = rawLength
        self.checksum = checksum
    }

    /// The frame type, or `nil` for a type byte this build does not know.
    public var type: FrameType? { FrameType(rawValue: typeByte) }
    /// The flags, including bits this build may not know.
    public var flags: FrameFlags { FrameFlags(rawValue: flagsByte) }

    /// Reads a header at the buffer's reader index without moving it.
    ///
    /// Returns `nil` while fewer than `byteCount` bytes are readable. Checks
    /// what keeps a byte stream in sync as soon as the bytes for it are there
    /// (magic, version, then length against `frameBytesMax`), so garbage is
    /// refused at its first bytes rather than after a whole header's worth.
    public static func peek(
        in buffer: ByteBuffer,
        limits: WireLimits
    ) throws(FrameError) -> FrameHeader? {
        let start = buffer.readerIndex
        if let magic = buffer.getInteger(at: start, as: UInt16.self), magic != Self.magic {
            throw .badMagic(magic)
        }
        if let version = buffer.getInteger(at: start + 2, as: UInt8.self), version != Self.version {
            throw .unsupportedVersion(version)
        }
        guard buffer.readableBytes >= byteCount else { return nil }
        let header = FrameHeader(
            typeByte: buffer.getInteger(at: start + 3)!,
            flagsByte: buffer.getInteger(at: start + 4)!,
            reserved: UInt32(buffer.getInteger(at: start + 5, as: UInt8.self)!) << 16
                | UInt32(buffer.getInteger(at: start + 6, as: UInt16.self)!),
            sequence: buffer.getInteger(at: start + 8)!,
            length: buffer.getInteger(at: start + 16)!,
            rawLength: buffer.getInteger(at: start + 20)!,
            checksum: buffer.getInteger(at: start + 24)!
        )
        guard Int(header.length) <= limits.frameBytesMax else {
            throw .frameTooLarge(length: Int(header.length), max: limits.frameBytesMax)
        }
        return header
    }

    /// Writes the header over `byteCount` bytes already in the buffer at
    /// `index`; encoders reserve the space first and fill it in once the
    /// payload's length and checksum are known.
    public func set(in buffer: inout ByteBuffer, at index: Int) {
        buffer.setInteger(Self.magic, at: index)
        buffer.setInteger(Self.version, at: index + 2)
        buffer.setInteger(typeByte, at: index + 3)
        buffer.setInteger(flagsByte, at: index + 4)
        buffer.setInteger(UInt8(truncatingIfNeeded: reserved >> 16), at: index + 5)
        buffer.setInteger(UInt16(truncatingIfNeeded: reserved), at: index + 6)
        buffer.setInteger(sequence, at: index + 8)
        buffer.setInteger(length, at: index + 16)
        buffer.setInteger(rawLength, at: index + 20)
        buffer.setInteger(checksum, at: index + 24)
    }

    /// Checks what `peek` leaves to the receiver of a whole frame: a known
    /// type, known flags, zero reserved bytes, a plausible `rawLength`.
    public func validate(limits: WireLimits) throws(FrameError) {
        guard type != nil else { throw .unknownType(typeByte) }
        guard FrameFlags.known.isSuperset(of: flags) else { throw .unsupportedFlags(flagsByte) }
        guard reserved == 0 else { throw .reservedNotZero }
        guard Int(rawLength) <= limits.inflatedBytesMax else {
            throw .inflatedTooLarge(bytes: Int(rawLength), max: limits.inflatedBytesMax)
        }
        if !flags.contains(.zlib), rawLength != length {
            throw .lengthMismatch(declared: Int(rawLength), actual: Int(length))
        }
    }

    private init(
        typeByte: UInt8,
        flagsByte: UInt8,
        reserved: UInt32,
        sequence: UInt64,
        length: UInt32,
        rawLength: UInt32,
        checksum: UInt32
    ) {
        self.typeByte = typeByte
        self.flagsByte = flagsByte
        self.reserved = reserved
        self.sequence = sequence
        self.length = length
        self.rawLength = rawLength
        self.checksum = checksum
    }
}
