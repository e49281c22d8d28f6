import StitchIdentity
import StitchTesting
import Testing

/// Normalizing a normalized value changes nothing: the stored form is a
/// fixed point, so a value that round-trips through a client (a lookup with
/// a stored value) finds the same identifier.
@Suite struct IdempotenceTests {
    static let separators = [" ", "-", "(", ")", ".", "", "", "\u{00A0}"]

    /// Raw values in the shapes real clients send, with random noise.
    static func randomRaw(_ kind: IdentifierKind, _ random: inout SeededGenerator) -> (String, String?) {
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
        }
        func noisy(_ text: String) -> String {
            text.map { String($0) + (Int.random(in: 0..<4, using: &random) == 0 ? separators.randomElement(using: &random)! : "") }
                .joined()
        }
        let pad = ["", " ", "  ", "\t", "\u{200B}"].randomElement(using: &random)!
        let token = String((0..<Int.random(in: 1...40, using: &random)).map { _ in
            "abcXYZ019._:-".randomElement(using: &random)!
        })
        let raw: String
        var namespace: String?
        switch kind {
        case .phone:
            raw = noisy(["8", "+7", "7", "", "+49", "810", "00"].randomElement(using: &random)! + digits(Int.random(in: 6...13, using: &random)))
        case .email:
            raw = ["Ivan", "a.b", "x+y", "Иван", "o'n"].randomElement(using: &random)! + "@"
                + ["Mail.RU", "gmail.com", "почта.рф", "a.b.c", "x", "ex-ample.org"].randomElement(using: &random)!
        case .gaClientID:
            raw = ["GA1.2.", "GA1.1.", "", "GA1.x."].randomElement(using: &random)! + digits(Int.random(in: 0...11, using: &random)) + "." + digits(10)
        case .ymClientID:
            raw = digits(Int.random(in: 3...22, using: &random))
        case .cookie, .session, .userID:
            raw = token
        case .chat, .crmContact:
            namespace = Bool.random(using: &random) ? ["Jivo", "amocrm", "", "bad space"].randomElement(using: &random)! : nil
            raw = token
        }
        return (pad + raw + pad, namespace)
    }

    @Test func normalizationIsIdempotent() throws {
        var random = SeededGenerator.forTest("normalizationIsIdempotent")
        let normalizer = IdentifierNormalizer()
        var accepted = [IdentifierKind: Int]()
        for _ in 0..<20_000 {
            let kind = IdentifierKind.allCases.randomElement(using: &random)!
            let (raw, namespace) = Self.randomRaw(kind, &random)
            guard let once = try? normalizer.normalize(kind, raw, namespace: namespace) else { continue }
            accepted[kind, default: 0] += 1
            let twice = try normalizer.normalize(kind, once.value)
            #expect(twice == once, "\(kind.name) \"\(raw)\" → \"\(once.value)\" → \"\(twice.value)\"")
        }
        // The generator must produce valid values of every kind, or the
        // property says nothing about that kind.
        for kind in IdentifierKind.allCases {
            #expect(accepted[kind, default: 0] > 100, "too few valid \(kind.name) values generated")
        }
    }

    @Test func arbitraryUnicodeNeverCrashesAndStaysIdempotent() throws {
        var random = SeededGenerator.forTest("arbitraryUnicodeNeverCrashesAndStaysIdempotent")
        let alphabet = Array("0123456789+-() .@:_aZяЖ\u{200B}\u{00A0}\"'{}$%[]\\\u{1F600}\u{0301}")
        let normalizer = IdentifierNormalizer()
        for _ in 0..<20_000 {
            let kind = IdentifierKind.allCases.randomElement(using: &random)!
            let raw = String((0..<Int.random(in: 0...24, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            guard let once = try? normalizer.normalize(kind, raw) else { continue }
            #expect(try normalizer.normalize(kind, once.value) == once, "\(kind.name) \"\(raw)\"")
        }
    }
}
