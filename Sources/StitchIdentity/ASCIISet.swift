/// A set of ASCII bytes as a 128-bit mask: membership is two shifts, where
/// `String.utf8.contains` would walk a string for every byte checked.
struct ASCIISet: Sendable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    /// The bytes of `members`, plus the inclusive `ranges`.
    init(_ members: StaticString = "", ranges: [ClosedRange<UInt8>] = []) {
        let bytes = UnsafeBufferPointer(start: members.utf8Start, count: members.utf8CodeUnitCount)
        for byte in bytes { insert(byte) }
        for range in ranges { for byte in range { insert(byte) } }
    }

    private mutating func insert(_ byte: UInt8) {
        precondition(byte < 0x80, "ASCIISet holds ASCII only")
        if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
    }

    @inline(__always)
    func contains(_ byte: UInt8) -> Bool {
        byte < 64 ? low & (1 << UInt64(byte)) != 0 : byte < 128 && high & (1 << UInt64(byte - 64)) != 0
    }

    static let digits = ASCIISet(ranges: [0x30...0x39])
    static let lowercaseLetters = ASCIISet(ranges: [0x61...0x7A])
    /// Our tracker's ids: letters, digits and `. _ : -`.
    static let trackerID = ASCIISet("._:-", ranges: [0x30...0x39, 0x41...0x5A, 0x61...0x7A])
    /// Namespaces, after lower-casing: `a-z 0-9 _ . -`.
    static let namespace = ASCIISet("_.-", ranges: [0x30...0x39, 0x61...0x7A])
    /// E-mail local parts after lower-casing: RFC 5322 atext and dot.
    static let emailLocal = ASCIISet("!#$%&'*+/=?^_`{|}~.-", ranges: [0x30...0x39, 0x61...0x7A])
    /// E-mail domain labels after lower-casing.
    static let emailDomain = ASCIISet("-", ranges: [0x30...0x39, 0x61...0x7A])
}
