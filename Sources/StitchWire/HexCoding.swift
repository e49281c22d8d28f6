/// The text form of frames in `proto/golden/*.hex`, read by `stitch inspect`:
/// hexadecimal bytes, white space ignored, `#` starting a comment to the end
/// of the line.
public enum HexCoding {
    /// Text that is not hex: where, and why.
    public struct InvalidHex: Error, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses hex text; throws for a non-hex character or an odd digit count.
    public static func bytes(fromHex text: String) throws(InvalidHex) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for (lineIndex, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for scalar in line.unicodeScalars {
                if scalar == "#" { break }
                if scalar.properties.isWhitespace { continue }
                guard let nibble = nibble(scalar) else {
                    throw InvalidHex(line: lineIndex + 1, reason: "'\(scalar)' is not a hex digit")
                }
                if let h = high {
                    bytes.append(h << 4 | nibble)
                    high = nil
                } else {
                    high = nibble
                }
            }
        }
        if high != nil { throw InvalidHex(line: 0, reason: "odd number of hex digits") }
        return bytes
    }

    private static func nibble(_ scalar: Unicode.Scalar) -> UInt8? {
        switch scalar {
        case "0"..."9": UInt8(scalar.value - 48)
        case "a"..."f": UInt8(scalar.value - 87)
        case "A"..."F": UInt8(scalar.value - 55)
        default: nil
        }
    }
}
