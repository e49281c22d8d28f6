extension IdentifierNormalizer {
    /// Google Analytics client ids: the `_ga` cookie `GA1.2.1234567890.1600000000`
    /// and the bare `1234567890.1600000000` both become the bare form, two runs
    /// of digits joined by a dot (a random number and the first-visit time).
    func normalizeGAClientID(_ value: Substring) throws(IdentifierRejection) -> String {
        try rejectJunk(value)
        var parts = value.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if parts.count == 4, value.hasASCIIPrefixIgnoringCase("GA1.") {
            // The second part is the cookie's domain depth (`2`, sometimes `1-2`).
            guard parts[1].allSatisfy({ $0.isASCIIDigit || $0 == UInt8(ascii: "-") }) else {
                throw .invalidFormat("expected GA1.N.RANDOM.TIMESTAMP")
            }
            parts.removeFirst(2)
        }
        guard parts.count == 2 else {
            throw .invalidFormat("expected RANDOM.TIMESTAMP or GA1.N.RANDOM.TIMESTAMP")
        }
        for part in parts {
            guard !part.isEmpty, part.allSatisfy(\.isASCIIDigit) else {
                throw .invalidFormat("expected digits around the dot")
            }
            guard part.count <= IdentifierLimits.clientIDDigitsMax else { throw .tooLong(max: IdentifierLimits.clientIDDigitsMax) }
        }
        // `0.1600000000`: the random part was never generated.
        if parts[0].allSatisfy({ $0 == UInt8(ascii: "0") }) { throw .junk }
        return String(decoding: parts[0], as: UTF8.self) + "." + String(decoding: parts[1], as: UTF8.self)
    }

    /// Yandex Metrica client ids (`_ym_uid`): 6 to 20 digits, usually a
    /// ten-digit timestamp followed by random digits.
    func normalizeYMClientID(_ value: Substring) throws(IdentifierRejection) -> String {
        try rejectJunk(value)
        for scalar in value.unicodeScalars where !("0"..."9").contains(scalar) {
            throw .invalidCharacter(scalar)
        }
        let count = value.utf8.count
        if count < IdentifierLimits.ymClientIDDigitsMin { throw .tooShort(min: IdentifierLimits.ymClientIDDigitsMin) }
        if count > IdentifierLimits.clientIDDigitsMax { throw .tooLong(max: IdentifierLimits.clientIDDigitsMax) }
        return String(value)
    }
}
