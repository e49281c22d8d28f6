/// Bytes as a dictionary key, hashed in one call over the whole buffer
/// (`[UInt8]`'s own hashing feeds the hasher one byte at a time).
struct ByteKey: Hashable {
    var bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
