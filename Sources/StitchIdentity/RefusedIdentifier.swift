/// One identifier value of an event that normalization refused: counted by
/// the server, reported back to the sender in the ack, never stored.
public struct RefusedIdentifier: Hashable, Sendable {
    /// The kind the value was sent (or derived) as.
    public var kind: IdentifierKind
    /// Why it was refused.
    public var reason: IdentifierRejection
    /// Where the value was in the beacon: `identifiers[2]`, `form.phone`, …
    public var field: String

    public init(kind: IdentifierKind, reason: IdentifierRejection, field: String) {
        self.kind = kind
        self.reason = reason
        self.field = field
    }
}
