extension IdentifierNormalizer {
    /// E-mail addresses are trimmed and lower-cased and must look deliverable:
    /// one `@`, a local part of at most 64 bytes without leading, trailing or
    /// doubled dots, and a domain of at least two labels whose last one is a
    /// name (letters or `xn--`). Non-ASCII letters are allowed (`почта.рф`).
    ///
    /// Sub-addresses (`ivan+promo@…`) and Gmail dots are kept as typed: merging
    /// them would be a guess about one provider's rules, and a wrong guess
    /// over-merges people, which is worse than missing a link.
    func normalizeEmail(_ value: Substring) throws(IdentifierRejection) -> String {
        try rejectJunk(value)
        var address = value
        if address.hasASCIIPrefixIgnoringCase("mailto:") { address = address.dropFirst(7).trimmed }
        guard address.utf8.count <= IdentifierLimits.emailBytesMax else { throw .tooLong(max: IdentifierLimits.emailBytesMax) }
        let lowered = address.lowercased()
        let parts = lowered.utf8.split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalidFormat("an e-mail address has exactly one @") }
        try checkEmailLocalPart(parts[0])
        try checkEmailDomain(parts[1])
        if junk.emailLocalParts.contains(String(decoding: parts[0], as: UTF8.self))
            || junk.emailDomains.contains(String(decoding: parts[1], as: UTF8.self))
        {
            throw .junk
        }
        return lowered
    }

    private func checkEmailLocalPart(_ local: Substring.UTF8View.SubSequence) throws(IdentifierRejection) {
        guard !local.isEmpty else { throw .invalidFormat("nothing before @") }
        guard local.count <= IdentifierLimits.emailLocalBytesMax else { throw .tooLong(max: IdentifierLimits.emailLocalBytesMax) }
        let dot = UInt8(ascii: ".")
        if local.first == dot || local.last == dot || hasDoubledDot(local) {
            throw .invalidFormat("misplaced dot before @")
        }
        for byte in local where !Self.isLocalPartByte(byte) {
            throw .invalidCharacter(Unicode.Scalar(byte))
        }
    }

    private func checkEmailDomain(_ domain: Substring.UTF8View.SubSequence) throws(IdentifierRejection) {
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2 else { throw .invalidFormat("the domain needs a dot") }
        for label in labels {
            guard !label.isEmpty else { throw .invalidFormat("empty label in the domain") }
            guard label.count <= IdentifierLimits.emailLabelBytesMax else { throw .tooLong(max: IdentifierLimits.emailLabelBytesMax) }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                throw .invalidFormat("a domain label cannot start or end with -")
            }
            for byte in label where !Self.isDomainByte(byte) {
                throw .invalidCharacter(Unicode.Scalar(byte))
            }
        }
        let top = labels.last!
        let isName = top.allSatisfy { $0 >= 0x80 || ASCIISet.lowercaseLetters.contains($0) }
        guard (isName && top.count >= 2) || top.starts(with: "xn--".utf8) else {
            throw .invalidFormat("the top-level domain must be a name")
        }
    }

    private func hasDoubledDot(_ bytes: Substring.UTF8View.SubSequence) -> Bool {
        zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }
    }

    /// RFC 5322 atext plus dot, and any non-ASCII byte (RFC 6531 addresses).
    private static func isLocalPartByte(_ byte: UInt8) -> Bool {
        byte >= 0x80 || ASCIISet.emailLocal.contains(byte)
    }

    private static func isDomainByte(_ byte: UInt8) -> Bool {
        byte >= 0x80 || ASCIISet.emailDomain.contains(byte)
    }
}
