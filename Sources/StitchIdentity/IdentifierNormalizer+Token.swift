extension IdentifierNormalizer {
    /// Our tracker's `cookie` and `session` ids: 8 to 128 of `A-Z a-z 0-9 . _ : -`.
    /// Case is kept: the tracker's ids are case-sensitive (base62).
    func normalizeTrackerID(_ value: Substring) throws(IdentifierRejection) -> String {
        try rejectJunk(value)
        try check(value, length: IdentifierLimits.trackerIDBytesMin...IdentifierLimits.tokenBytesMax, allowed: ASCIISet.trackerID.contains)
        return value.wholeOrCopy
    }

    /// The site's login id: 1 to 128 printable ASCII characters, case kept.
    func normalizeUserID(_ value: Substring) throws(IdentifierRejection) -> String {
        try rejectJunk(value)
        try check(value, length: 1...IdentifierLimits.tokenBytesMax, allowed: \.isASCIIVisible)
        return value.wholeOrCopy
    }

    /// `chat` and `crm_contact`: `namespace:value`, where the namespace (chat
    /// provider or CRM) is lower-cased and the value is 1 to 128 printable ASCII
    /// characters with its case kept. The namespace comes from the argument or,
    /// when that is empty, from the value's text before its first `:`.
    ///
    /// A value that already starts with its own namespace and `:` is not
    /// prefixed again: (`jivo`, `jivo:123`), (`jivo`, `123`) and (``, `jivo:123`)
    /// are all `jivo:123`, so a provider hook and a tracker that write the id
    /// differently still name one visitor, and normalizing is idempotent.
    func normalizeNamespaced(_ value: Substring, namespace: String?) throws(IdentifierRejection) -> String {
        var space = namespace.map { $0.trimmed } ?? ""
        var id = value
        if space.isEmpty {
            guard let colon = value.firstIndex(of: ":") else { throw .missingNamespace }
            space = value[..<colon]
            id = value[value.index(after: colon)...].trimmed
        } else if let colon = value.firstIndex(of: ":"),
            value[..<colon].lowercased() == space.lowercased()
        {
            id = value[value.index(after: colon)...].trimmed
        }
        let loweredSpace = space.lowercased()
        guard loweredSpace.utf8.count <= IdentifierLimits.namespaceBytesMax,
            loweredSpace.utf8.allSatisfy(ASCIISet.namespace.contains)
        else { throw .invalidNamespace }
        guard !id.isEmpty else { throw .empty }
        try rejectJunk(id)
        try check(id, length: 1...IdentifierLimits.tokenBytesMax, allowed: \.isASCIIVisible)
        return loweredSpace + ":" + id
    }

    /// Checks every character against `allowed`, then the length in bytes.
    private func check(
        _ value: Substring,
        length: ClosedRange<Int>,
        allowed: (UInt8) -> Bool
    ) throws(IdentifierRejection) {
        for byte in value.utf8 where !(byte < 0x80 && allowed(byte)) {
            // Name the whole character, not the byte, when it is not ASCII.
            let offending = value.unicodeScalars.first { !($0.isASCII && allowed(UInt8($0.value))) }!
            throw .invalidCharacter(offending)
        }
        let count = value.utf8.count
        if count < length.lowerBound { throw .tooShort(min: length.lowerBound) }
        if count > length.upperBound { throw .tooLong(max: length.upperBound) }
    }
}
