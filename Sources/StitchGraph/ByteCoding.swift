/// Fixed-layout integer encoding for keys and records.
///
/// Keys are big-endian so LMDB's byte order sorts them numerically; record
/// fields are little-endian (the machine's order, cheapest to read). Signed
/// times in keys have their sign bit flipped so negative times sort first.
enum ByteCoding {
    @inline(__always)
    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func bigEndian<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, at offset: Int, as: T.Type) -> T {
        T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inline(__always)
    static func littleEndian<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, at offset: Int, as: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Time in milliseconds as an order-preserving unsigned key part.
    @inline(__always)
    static func sortableTime(_ timeMs: Int64) -> UInt64 {
        UInt64(bitPattern: timeMs) ^ (1 << 63)
    }

    @inline(__always)
    static func time(fromSortable value: UInt64) -> Int64 {
        Int64(bitPattern: value ^ (1 << 63))
    }
}
