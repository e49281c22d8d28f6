/// Why a raw identifier value was not accepted.
///
/// Every rejection has a stable `code` for metrics and logs and a sentence for
/// people (`description`). A rejected value is counted, never stored.
public enum IdentifierRejection: Error, Hashable, Sendable {
    /// Empty or only whitespace.
    case empty
    /// A placeholder a broken client sends instead of a value (`undefined`,
    /// `null`, `[object Object]`, `0`, an unfilled `{{template}}`, …) or a value
    /// the site declared junk (its office phone).
    case junk
    /// Shorter than the kind allows.
    case tooShort(min: Int)
    /// Longer than the kind allows.
    case tooLong(max: Int)
    /// A character the kind does not allow.
    case invalidCharacter(Unicode.Scalar)
    /// The value does not have the kind's shape; the text says what was expected.
    case invalidFormat(String)
    /// A phone number made of one repeated digit.
    case repeatedDigit
    /// A `chat` or `crm_contact` value without its provider or CRM.
    case missingNamespace
    /// The namespace is not 1 to 32 of `a-z 0-9 _ . -`.
    case invalidNamespace

    /// Which case, without its details: the stable snake_case labels of
    /// metrics (`identifiers_rejected_total{reason=…}`), every one known up
    /// front (`allCases`) so metrics are declared before the first rejection.
    public enum Kind: String, CaseIterable, Sendable {
        case empty
        case junk
        case tooShort = "too_short"
        case tooLong = "too_long"
        case invalidCharacter = "invalid_character"
        case invalidFormat = "invalid_format"
        case repeatedDigit = "repeated_digit"
        case missingNamespace = "missing_namespace"
        case invalidNamespace = "invalid_namespace"
    }

    public var kind: Kind {
        switch self {
        case .empty: .empty
        case .junk: .junk
        case .tooShort: .tooShort
        case .tooLong: .tooLong
        case .invalidCharacter: .invalidCharacter
        case .invalidFormat: .invalidFormat
        case .repeatedDigit: .repeatedDigit
        case .missingNamespace: .missingNamespace
        case .invalidNamespace: .invalidNamespace
        }
    }

    /// Stable snake_case label for metrics: `kind`'s raw value.
    public var code: String { kind.rawValue }

    /// Every `code`, for metrics declared before the first rejection.
    public static let codes: [String] = Kind.allCases.map(\.rawValue)
}

extension IdentifierRejection: CustomStringConvertible {
    public var description: String {
        switch self {
        case .empty: "empty value"
        case .junk: "junk value (a placeholder, not an identifier)"
        case .tooShort(let min): "too short (at least \(min))"
        case .tooLong(let max): "too long (at most \(max))"
        case .invalidCharacter(let scalar): "invalid character \(Self.quoted(scalar))"
        case .invalidFormat(let expected): "invalid format: \(expected)"
        case .repeatedDigit: "phone number made of one repeated digit"
        case .missingNamespace: "missing namespace (chat provider or CRM name)"
        case .invalidNamespace: "invalid namespace (1 to 32 of a-z 0-9 _ . -)"
        }
    }

    private static func quoted(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let printable = scalar.properties.isWhitespace || scalar.value < 0x20 ? "" : "'\(scalar)' "
        return "\(printable)(U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex))"
    }
}
