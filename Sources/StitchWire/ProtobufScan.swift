/// A look at protobuf bytes that counts a top-level field without decoding
/// anything, so a batch's beacon count is bounded before the decoder builds a
/// message per beacon.
public enum ProtobufScan {
    /// Counts the top-level occurrences of `field`.
    ///
    /// Throws `malformedPayload` for bytes that are not a sequence of
    /// well-formed fields (a length past the end, a bad wire type), which the
    /// full decoder would refuse too.
    public static func count(field: UInt64, in bytes: UnsafeRawBufferPointer) throws(FrameError) -> Int {
        var reader = VarintReader(bytes: bytes)
        var count = 0
        while !reader.isAtEnd {
            let tag = try reader.varint()
            if tag >> 3 == field { count += 1 }
            switch tag & 7 {
            case 0: _ = try reader.varint()
            case 1: try reader.skip(8)
            case 2: try reader.skip(try reader.varint())
            case 5: try reader.skip(4)
            default: throw .malformedPayload("wire type \(tag & 7) at top level")
            }
        }
        return count
    }

    private struct VarintReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var isAtEnd: Bool { offset >= bytes.count }

        mutating func varint() throws(FrameError) -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 70, by: 7) {
                guard offset < bytes.count else { throw .malformedPayload("varint cut short") }
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            throw .malformedPayload("varint longer than 10 bytes")
        }

        mutating func skip(_ count: UInt64) throws(FrameError) {
            guard count <= UInt64(bytes.count - offset) else {
                throw .malformedPayload("field length \(count) past the end of the payload")
            }
            offset += Int(count)
        }
    }
}
