/// Turns raw identifier values, as clients send them, into the one normalized
/// form Stitch stores (`8 (495) 123-45-67` → `+74951234567`).
///
/// Normalization is idempotent: normalizing a normalized value (with no
/// namespace argument) returns it unchanged. It is pure and allocation-light,
/// so the collector can run it on every identifier of every beacon.
///
/// Order of checks, for every kind: trim whitespace and invisible characters,
/// reject empty and junk values (`JunkRules`), then apply the kind's rules.
public struct IdentifierNormalizer: Sendable {
    /// Values that are never identifiers; sites add their own phone numbers.
    public var junk: JunkRules

    public init(junk: JunkRules = .standard) {
        self.junk = junk
    }

    /// Normalizes one raw value.
    ///
    /// - Parameters:
    ///   - kind: what the value names.
    ///   - raw: the value as the client saw it.
    ///   - namespace: the chat provider or CRM for `chat` and `crm_contact`;
    ///     when `nil` or empty, the value itself may carry it as `namespace:value`.
    ///     Ignored for other kinds.
    /// - Throws: `IdentifierRejection` saying why the value is not an identifier.
    public func normalize(
        _ kind: IdentifierKind,
        _ raw: String,
        namespace: String? = nil
    ) throws(IdentifierRejection) -> NormalizedIdentifier {
        let value = raw.trimmed
        guard !value.isEmpty else { throw .empty }
        let normalized: String
        switch kind {
        case .phone: normalized = try normalizePhone(value)
        case .email: normalized = try normalizeEmail(value)
        case .gaClientID: normalized = try normalizeGAClientID(value)
        case .ymClientID: normalized = try normalizeYMClientID(value)
        case .cookie, .session: normalized = try normalizeTrackerID(value)
        case .userID: normalized = try normalizeUserID(value)
        case .chat, .crmContact: normalized = try normalizeNamespaced(value, namespace: namespace)
        }
        return NormalizedIdentifier(uncheckedKind: kind, value: normalized)
    }

    /// Rejects placeholders; every kind's rules start with this.
    func rejectJunk(_ value: Substring) throws(IdentifierRejection) {
        if junk.isPlaceholder(value) { throw .junk }
    }
}
