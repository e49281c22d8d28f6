/// An identifier value that passed normalization: the only form Stitch stores,
/// indexes and compares.
///
/// Two raw values name the same thing exactly when their normalized forms are
/// equal, so this type's `==` is identity equality.
public struct NormalizedIdentifier: Hashable, Sendable {
    /// What the value names.
    public let kind: IdentifierKind
    /// The normalized value; `namespace:value` for namespaced kinds.
    public let value: String

    /// Wraps an already normalized value. Use `IdentifierNormalizer` to make
    /// one from raw input; this initializer does not check anything.
    public init(uncheckedKind kind: IdentifierKind, value: String) {
        self.kind = kind
        self.value = value
    }

    /// The namespace of a `chat` or `crm_contact` value, `nil` for other kinds.
    public var namespace: Substring? {
        guard kind.isNamespaced, let colon = value.firstIndex(of: ":") else { return nil }
        return value[..<colon]
    }
}

extension NormalizedIdentifier: CustomStringConvertible {
    public var description: String { "\(kind.name):\(value)" }
}
