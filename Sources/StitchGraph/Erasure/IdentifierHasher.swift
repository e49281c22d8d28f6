import Crypto
import StitchIdentity

/// Keys erased identifiers for the suppression list: HMAC-SHA256 of the
/// identifier's `ident` key (site | kind | normalized value) under a secret
/// drawn once per store and kept in its `meta` table. The list then answers
/// "was this identifier erased?" for a later beacon without holding the
/// value; without the store's secret the hashes cannot be tested against
/// guessed phones or e-mails.
///
/// A store moved to another shard layout (`stitch carry`) keeps the lists of
/// the stores it came from under their own secrets: those secrets are
/// carried beside this store's, and a beacon is tested against each.
struct IdentifierHasher: Sendable {
    /// The secret's bytes (swift-crypto's `SymmetricKey` is not `Sendable`;
    /// making one per hash is a copy of 32 bytes).
    let secret: [UInt8]
    /// Secrets of the stores whose suppression lists were carried here.
    let carriedSecrets: [[UInt8]]

    static let secretMetaKey = Array("identifier_secret".utf8)
    /// The carried secrets, `secretBytes` each, back to back.
    static let carriedSecretsMetaKey = Array("identifier_secrets_carried".utf8)
    static let secretBytes = 32

    init(secret: [UInt8], carried: [[UInt8]] = []) {
        self.secret = secret
        self.carriedSecrets = carried
    }

    /// The carried secrets as stored under `carriedSecretsMetaKey`.
    static func carried(decoding bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        stride(from: 0, to: bytes.count - secretBytes + 1, by: secretBytes).map { Array(bytes[$0..<$0 + secretBytes]) }
    }

    /// A new random secret.
    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<secretBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    func hash(identKey: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: identKey, using: SymmetricKey(data: secret)))
    }

    /// The identifier's hash under this store's secret, then under each
    /// carried one: a suppressed identifier is listed under one of them.
    func hashesToTest(identKey: [UInt8]) -> [[UInt8]] {
        guard !carriedSecrets.isEmpty else { return [hash(identKey: identKey)] }
        return ([secret] + carriedSecrets).map { Array(HMAC<SHA256>.authenticationCode(for: identKey, using: SymmetricKey(data: $0))) }
    }

    func hash(site: UInt32, identifier: NormalizedIdentifier) -> [UInt8] {
        var key: [UInt8] = []
        StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
        return hash(identKey: key)
    }
}
