extension IdentifierNormalizer {
    /// Phone numbers become E.164 (`+` and 8 to 15 digits).
    ///
    /// Russian habits are understood without a `+`: a leading `8` or `7` on
    /// eleven digits, a bare ten-digit number starting with 3, 4, 8 or 9 (area
    /// and mobile codes), and `810`/`00` before an international number. Other
    /// countries must be written with `+`, `00` or `810`, because a bare foreign
    /// national number cannot be told from a mistyped Russian one.
    func normalizePhone(_ value: Substring) throws(IdentifierRejection) -> String {
        try rejectJunk(value)
        var digits = try phoneDigits(value)
        if !digits.hasPlus {
            digits.number = try internationalDigits(fromDomestic: digits.number)
        }
        try checkInternational(digits.number)
        let e164 = "+" + String(decoding: digits.number, as: UTF8.self)
        if junk.phones.contains(e164) { throw .junk }
        return e164
    }

    /// Collects the digits, allowing the separators people type and one
    /// leading `+`; anything else (letters, `доб.` extensions) is refused.
    private func phoneDigits(
        _ value: Substring
    ) throws(IdentifierRejection) -> (number: [UInt8], hasPlus: Bool) {
        var number: [UInt8] = []
        number.reserveCapacity(16)
        var hasPlus = false
        var body = value[...]
        if body.hasASCIIPrefixIgnoringCase("tel:") { body = body.dropFirst(4) }
        for scalar in body.unicodeScalars {
            switch scalar {
            case "0"..."9":
                number.append(UInt8(scalar.value))
                if number.count > IdentifierLimits.phoneDigitsMax { throw .tooLong(max: IdentifierLimits.e164DigitsMax) }
            case "+" where number.isEmpty && !hasPlus:
                hasPlus = true
            case " ", "-", "(", ")", ".", "/", "\u{2010}"..."\u{2015}", "\u{2212}":
                continue
            default:
                if scalar.isTrimmable { continue }
                throw .invalidCharacter(scalar)
            }
        }
        guard !number.isEmpty else { throw .invalidFormat("a phone number needs digits") }
        return (number, hasPlus)
    }

    /// Rewrites a number written without `+` into international digits.
    private func internationalDigits(fromDomestic number: [UInt8]) throws(IdentifierRejection) -> [UInt8] {
        let seven = UInt8(ascii: "7"), eight = UInt8(ascii: "8")
        if number.starts(with: "810".utf8), number.count > 11 {
            return Array(number.dropFirst(3))  // Russian international prefix
        }
        if number.starts(with: "00".utf8) {
            // International prefix; what follows must be a whole number.
            guard number.count > 2 + 7 else { throw .tooShort(min: 8) }
            return Array(number.dropFirst(2))
        }
        if number.count == 11, number[0] == eight || number[0] == seven {
            return [seven] + number.dropFirst()
        }
        if number.count == 10, "3489".utf8.contains(number[0]) {
            return [seven] + number
        }
        if number.count < 10 { throw .tooShort(min: 10) }
        if number.count > 11 { throw .tooLong(max: 11) }
        throw .invalidFormat("not a Russian number; write other countries with +")
    }

    /// Checks E.164 digits (country code first, no `+`).
    private func checkInternational(_ number: [UInt8]) throws(IdentifierRejection) {
        guard let first = number.first else { throw .tooShort(min: 8) }
        if first == UInt8(ascii: "7") {
            // Russia and Kazakhstan: exactly ten national digits, and no area
            // code starts with 0, 1 or 2.
            if number.count < 11 { throw .tooShort(min: 11) }
            if number.count > 11 { throw .tooLong(max: 11) }
            guard number[1] >= UInt8(ascii: "3") else {
                throw .invalidFormat("no +7 number starts with \(Character(Unicode.Scalar(number[1])))")
            }
        } else {
            if first == UInt8(ascii: "0") { throw .invalidFormat("no country code starts with 0") }
            if number.count < 8 { throw .tooShort(min: 8) }
            if number.count > IdentifierLimits.e164DigitsMax { throw .tooLong(max: IdentifierLimits.e164DigitsMax) }
        }
        // The national part (or the whole number) made of one digit is a
        // keyboard test, not a phone: +7 777 777 77 77, 8 999 999 99 99.
        let national = number.dropFirst()
        if national.allSatisfy({ $0 == national.first }) || number.allSatisfy({ $0 == first }) {
            throw .repeatedDigit
        }
    }
}
