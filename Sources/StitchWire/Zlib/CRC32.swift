import CZlib

/// CRC-32 (the zlib/IEEE 802.3 polynomial, as in Python's `zlib.crc32` and
/// Go's `hash/crc32.ChecksumIEEE`) of a frame payload.
public enum CRC32 {
    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        let value = crc32_z(0, base.assumingMemoryBound(to: Bytef.self), bytes.count)
        return UInt32(truncatingIfNeeded: value)
    }
}
