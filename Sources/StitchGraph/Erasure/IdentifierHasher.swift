import Crypto
import StitchIdentity

/// Keys erased identifiers for the suppression list: HMAC-SHA256 of the
/// identifier's `ident` key (site | kind | normalized value) under a secret
/// drawn once per store and kept in its `meta` table. The list then answers
/// "was this identifier erased?" for a later beacon without holding the
/// value; without the store's secret the hashes cannot be tested against
/// guessed phones or e-mails.
struct IdentifierHasher: Sendable {
    /// The secret's bytes (swift-crypto's `SymmetricKey` is not `Sendable`;
    /// making one per hash is a copy of 32 bytes).
    private let secret: [UInt8]

    static let secretMetaKey = Array("identifier_secret".utf8)
    static let secretBytes = 32

    init(secret: [UInt8]) {
        self.secret = secret
    }

    /// A new random secret.
    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<secretBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    func hash(identKey: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: identKey, using: SymmetricKey(data: secret)))
    }

    func hash(site: UInt32, identifier: NormalizedIdentifier) -> [UInt8] {
        var key: [UInt8] = []
        StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
        return hash(identKey: key)
    }
}
