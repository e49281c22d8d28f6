/// Values that are never identifiers (DESIGN.md §4).
///
/// Broken tags and templates send placeholders instead of real ids; if Stitch
/// took them as identifiers, every visitor with `undefined` for a cookie would
/// become one person. The standard rules hold what real trackers send; a site
/// adds its own (its office and tracking phone numbers) to `phones`.
public struct JunkRules: Hashable, Sendable {
    /// Placeholder values, lower-cased, compared after trimming and after
    /// stripping surrounding quotes.
    public var values: Set<String> {
        didSet { index = PlaceholderIndex(values) }
    }
    /// E-mail domains that only appear in test or fake input.
    public var emailDomains: Set<String>
    /// E-mail local parts that say "I have no e-mail".
    public var emailLocalParts: Set<String>
    /// The site's own numbers in E.164 form (office, call-tracking pool): they
    /// appear on many people's events and so must never link them.
    public var phones: Set<String>

    public init(
        values: Set<String>,
        emailDomains: Set<String>,
        emailLocalParts: Set<String>,
        phones: Set<String>
    ) {
        self.values = values
        self.index = PlaceholderIndex(values)
        self.emailDomains = emailDomains
        self.emailLocalParts = emailLocalParts
        self.phones = phones
    }

    /// The rules of DESIGN.md §4 with no site-specific numbers.
    public static let standard = JunkRules(
        values: [
            "undefined", "null", "nil", "none", "nan", "-1", "anonymous", "guest",
            "unknown", "[object object]", "(not set)", "not set", "(none)",
            "(not provided)", "n/a", "true", "false", "void 0", "void(0)", "na",
        ],
        emailDomains: [
            "example.com", "example.org", "example.net", "example.ru",
            "test.com", "test.ru", "test.test", "localhost",
        ],
        emailLocalParts: ["noemail", "no-email", "nomail", "noreply", "no-reply", "none"],
        phones: []
    )

    /// Lengths and first letters of `values`, so most real values are
    /// cleared without lower-casing them.
    private var index: PlaceholderIndex

    private struct PlaceholderIndex: Hashable, Sendable {
        var lengths: Set<Int> = []
        var firstBytes: Set<UInt8> = []

        init(_ values: Set<String>) {
            for value in values {
                lengths.insert(value.utf8.count)
                if let first = value.utf8.first { firstBytes.insert(first.asciiLowercased) }
            }
        }
    }

    /// Whether a trimmed value is a placeholder rather than an identifier.
    func isPlaceholder(_ trimmed: Substring) -> Bool {
        let core = trimmed.stripping(where: { Self.isQuoteOrSpace($0) })
        if core.isEmpty { return true }  // only quotes
        if core.utf8.allSatisfy({ $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "-") }) {
            return true
        }
        if Self.isUnfilledTemplate(core) { return true }
        guard index.lengths.contains(core.utf8.count), index.firstBytes.contains(core.utf8.first!.asciiLowercased) else {
            return false
        }
        return values.contains(core.lowercased())
    }

    private static func isQuoteOrSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\"", "'", "`", "\\": true
        default: scalar.isTrimmable
        }
    }

    /// `{{client_id}}`, `${cid}`, `%CLIENT_ID%`, `[[uid]]`: a tag manager or
    /// template engine that never filled in the variable.
    private static func isUnfilledTemplate(_ value: Substring) -> Bool {
        (value.hasBytePrefix("{{") && value.hasByteSuffix("}}"))
            || (value.hasBytePrefix("${") && value.hasByteSuffix("}"))
            || (value.hasBytePrefix("[[") && value.hasByteSuffix("]]"))
            || (value.utf8.count > 2 && value.hasBytePrefix("%") && value.hasByteSuffix("%"))
    }
}
