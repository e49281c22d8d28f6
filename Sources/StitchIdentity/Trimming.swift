extension Unicode.Scalar {
    /// Whitespace, plus the invisible characters that copy-paste leaves around
    /// ids and phone numbers (zero-width space and joiners, byte-order mark).
    var isTrimmable: Bool {
        // Printable ASCII is by far the common case; skip the Unicode tables.
        if (0x21...0x7E).contains(value) { return false }
        switch value {
        case 0x200B...0x200D, 0xFEFF: return true
        default: return properties.isWhitespace || value < 0x20
        }
    }
}

extension String {
    /// The value without surrounding whitespace and invisible characters.
    var trimmed: Substring { self[...].trimmed }
}

extension Substring {
    /// The value without leading and trailing scalars matching `predicate`.
    func stripping(where predicate: (Unicode.Scalar) -> Bool) -> Substring {
        // Fast path: nothing to strip when both ends are ASCII the predicate keeps.
        if let first = utf8.first, let last = utf8.last, first < 0x80, last < 0x80,
            !predicate(Unicode.Scalar(first)), !predicate(Unicode.Scalar(last))
        {
            return self
        }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !predicate($0) }) else {
            return self[endIndex..<endIndex]
        }
        let last = scalars.lastIndex(where: { !predicate($0) })!
        return self[first...last]
    }

    /// The value without surrounding whitespace and invisible characters.
    var trimmed: Substring {
        stripping(where: \.isTrimmable)
    }

    /// The text as a `String`: the string it is a slice of when it is all of
    /// it (an id with nothing trimmed, the usual case: no copy), else a copy.
    var wholeOrCopy: String {
        startIndex == base.startIndex && endIndex == base.endIndex ? base : String(self)
    }

    /// Whether the UTF-8 bytes start with `prefix` (byte-wise, no Unicode rules).
    func hasBytePrefix(_ prefix: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        return utf8.starts(with: expected)
    }

    /// Whether the UTF-8 bytes end with `suffix` (byte-wise, no Unicode rules).
    func hasByteSuffix(_ suffix: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
        return utf8.count >= expected.count && utf8.suffix(expected.count).elementsEqual(expected)
    }

    /// Whether the value starts with `prefix`, comparing ASCII letters without case.
    func hasASCIIPrefixIgnoringCase(_ prefix: String) -> Bool {
        var mine = utf8.makeIterator()
        for expected in prefix.utf8 {
            guard let byte = mine.next(), byte.asciiLowercased == expected.asciiLowercased else {
                return false
            }
        }
        return true
    }
}

extension UInt8 {
    var asciiLowercased: UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) ? self | 0x20 : self
    }

    var isASCIIDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }

    /// Printable ASCII without space: `!` through `~`.
    var isASCIIVisible: Bool { (0x21...0x7E).contains(self) }
}
