/// Integers in the files Stitch keeps beside a store (`Checkpoint`,
/// `GroupLog`), little-endian, and in LMDB's meta page, which LMDB writes in
/// the machine's order (little-endian wherever Stitch runs).
enum LittleEndian {
    /// The integer at byte `offset` of `bytes`.
    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// Appends `value`'s bytes to `bytes`.
    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
