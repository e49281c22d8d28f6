import StitchIdentity
import Testing

/// What each raw value normalizes to, or the code of the reason it is refused.
@Suite struct NormalizationTableTests {
    enum Outcome: Equatable, CustomStringConvertible {
        case value(String)
        case rejected(String)

        var description: String {
            switch self {
            case .value(let value): "→ \(value)"
            case .rejected(let code): "rejected \(code)"
            }
        }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let kind: IdentifierKind
        let raw: String
        let namespace: String?
        let expected: Outcome

        var testDescription: String { "\(kind.name) \"\(raw)\" \(expected)" }
    }

    static func ok(_ kind: IdentifierKind, _ raw: String, _ value: String, ns: String? = nil) -> Case {
        Case(kind: kind, raw: raw, namespace: ns, expected: .value(value))
    }

    static func no(_ kind: IdentifierKind, _ raw: String, _ code: String, ns: String? = nil) -> Case {
        Case(kind: kind, raw: raw, namespace: ns, expected: .rejected(code))
    }

    static let cases: [Case] = [
        // Phones: Russian habits.
        ok(.phone, "8 (495) 123-45-67", "+74951234567"),
        ok(.phone, "+7 495 123 45 67", "+74951234567"),
        ok(.phone, "84951234567", "+74951234567"),
        ok(.phone, "74951234567", "+74951234567"),
        ok(.phone, "9161234567", "+79161234567"),
        ok(.phone, "4951234567", "+74951234567"),
        ok(.phone, "+7(916)123-45-67", "+79161234567"),
        ok(.phone, "8-916-123-45-67", "+79161234567"),
        ok(.phone, "8.916.123.45.67", "+79161234567"),
        ok(.phone, " \u{200B}+7 916 123 45 67\u{00A0}", "+79161234567"),
        ok(.phone, "tel:+79161234567", "+79161234567"),
        ok(.phone, "+7 916 123\u{2013}45\u{2013}67", "+79161234567"),
        ok(.phone, "8 800 555-35-35", "+78005553535"),
        ok(.phone, "800 555 35 35", "+78005553535"),
        ok(.phone, "+7 701 123 45 67", "+77011234567"),  // Kazakhstan shares +7
        // Phones: other countries.
        ok(.phone, "+49 30 1234567", "+49301234567"),
        ok(.phone, "+1 (212) 555-0123", "+12125550123"),
        ok(.phone, "+380 44 123 4567", "+380441234567"),
        ok(.phone, "8 10 49 30 1234567", "+49301234567"),
        ok(.phone, "0049 30 1234567", "+49301234567"),
        // Phones: refused.
        no(.phone, "12345", "too_short"),
        no(.phone, "+7 916 123 45 6", "too_short"),
        no(.phone, "+7 916 123 45 678", "too_long"),
        no(.phone, "+1234567890123456", "too_long"),
        no(.phone, "+49 123", "too_short"),
        no(.phone, "8 999 999 99 99", "repeated_digit"),
        no(.phone, "+7 777 777 77 77", "repeated_digit"),
        no(.phone, "1111111111", "invalid_format"),
        no(.phone, "+7 123 456 78 90", "invalid_format"),
        no(.phone, "2123456789", "invalid_format"),
        no(.phone, "8 916 123-45-67 доб. 12", "invalid_character"),
        no(.phone, "+7 916 +123", "invalid_character"),
        no(.phone, "call me", "invalid_character"),
        no(.phone, "+0 123 456 789", "invalid_format"),
        no(.phone, "()", "invalid_format"),
        no(.phone, "0 0", "too_short"),  // found by the idempotence property test
        no(.phone, "00 1", "too_short"),
        no(.phone, "00 49 30 123", "too_short"),
        no(.phone, "0", "junk"),
        no(.phone, "-1", "junk"),
        no(.phone, "00000000000", "junk"),
        // E-mail.
        ok(.email, "  Ivan.Petrov@Mail.RU ", "ivan.petrov@mail.ru"),
        ok(.email, "mailto:Boss@Company.com", "boss@company.com"),
        ok(.email, "ivan+promo@gmail.com", "ivan+promo@gmail.com"),
        ok(.email, "Иван@Почта.рф", "иван@почта.рф"),
        ok(.email, "a@xn--80a1acny.xn--p1ai", "a@xn--80a1acny.xn--p1ai"),
        ok(.email, "o'neil@sub.domain.co.uk", "o'neil@sub.domain.co.uk"),
        no(.email, "ivan.mail.ru", "invalid_format"),
        no(.email, "ivan@@mail.ru", "invalid_format"),
        no(.email, "ivan@mail", "invalid_format"),
        no(.email, "ivan@mail.r", "invalid_format"),
        no(.email, "ivan@mail.123", "invalid_format"),
        no(.email, ".ivan@mail.ru", "invalid_format"),
        no(.email, "iv..an@mail.ru", "invalid_format"),
        no(.email, "ivan@-mail.ru", "invalid_format"),
        no(.email, "ivan@mail..ru", "invalid_format"),
        no(.email, "iv an@mail.ru", "invalid_character"),
        no(.email, "ivan@ma_il.ru", "invalid_character"),
        no(.email, "\(String(repeating: "a", count: 65))@mail.ru", "too_long"),
        no(.email, "test@example.com", "junk"),
        no(.email, "noemail@mail.ru", "junk"),
        no(.email, "\"undefined\"", "junk"),
        // Google Analytics client ids.
        ok(.gaClientID, "GA1.2.1234567890.1600000000", "1234567890.1600000000"),
        ok(.gaClientID, "GA1.1.987654321.1700000000", "987654321.1700000000"),
        ok(.gaClientID, "ga1.3.1234567890.1600000000", "1234567890.1600000000"),
        ok(.gaClientID, "1234567890.1600000000", "1234567890.1600000000"),
        no(.gaClientID, "GA1.2.abc.1600000000", "invalid_format"),
        no(.gaClientID, "GS1.1.1700000000.1.0", "invalid_format"),
        no(.gaClientID, "1234567890", "invalid_format"),
        no(.gaClientID, "0.1600000000", "junk"),
        no(.gaClientID, "123456789012345678901.1", "too_long"),
        // Yandex Metrica client ids.
        ok(.ymClientID, "1700000000123456789", "1700000000123456789"),
        ok(.ymClientID, " 170000000012345 ", "170000000012345"),
        no(.ymClientID, "12345", "too_short"),
        no(.ymClientID, "170000000012345678901", "too_long"),
        no(.ymClientID, "17000a0000", "invalid_character"),
        no(.ymClientID, "000000000", "junk"),
        // Tracker cookie and session.
        ok(.cookie, "c7Hq2x9LmP0aZ", "c7Hq2x9LmP0aZ"),
        ok(.cookie, "5f2b1c3e-8a4d-4c1b-9e7f-0a1b2c3d4e5f", "5f2b1c3e-8a4d-4c1b-9e7f-0a1b2c3d4e5f"),
        ok(.session, "c7Hq2x9LmP0aZ.17", "c7Hq2x9LmP0aZ.17"),
        no(.cookie, "abc", "too_short"),
        no(.cookie, "abc def ghi", "invalid_character"),
        no(.cookie, String(repeating: "x", count: 129), "too_long"),
        no(.cookie, "00000000-0000-0000-0000-000000000000", "junk"),
        no(.cookie, "undefined", "junk"),
        no(.cookie, "UNDEFINED", "junk"),
        no(.cookie, "'null'", "junk"),
        no(.cookie, "\\\"undefined\\\"", "junk"),
        no(.cookie, "[object Object]", "junk"),
        no(.cookie, "{{client_id}}", "junk"),
        no(.cookie, "${cid}", "junk"),
        no(.cookie, "%CLIENT_ID%", "junk"),
        no(.cookie, "(not set)", "junk"),
        no(.session, "NaN", "junk"),
        no(.session, "   ", "empty"),
        no(.session, "", "empty"),
        // Chat and CRM: namespaced.
        ok(.chat, "v-5521", "jivo:v-5521", ns: "Jivo"),
        ok(.chat, "jivo:v-5521", "jivo:v-5521"),
        ok(.chat, "a:b", "jivo:a:b", ns: "jivo"),
        // One canonical form however the namespace is written (FRAMING: never `jivo:jivo:123`).
        ok(.chat, "jivo:123", "jivo:123", ns: "jivo"),
        ok(.chat, "JIVO:123", "jivo:123", ns: "Jivo"),
        ok(.chat, "jivo:777", "jivo:777"),
        ok(.crmContact, "amocrm:C-88", "amocrm:C-88", ns: "amocrm"),
        ok(.crmContact, "C-88", "amocrm:C-88", ns: "amocrm"),
        ok(.crmContact, "bitrix24: 1009 ", "bitrix24:1009"),
        no(.chat, "v-5521", "missing_namespace"),
        no(.chat, "v-5521", "invalid_namespace", ns: "jivo site"),
        no(.chat, "v-5521", "invalid_namespace", ns: String(repeating: "j", count: 33)),
        no(.chat, "null", "junk", ns: "jivo"),
        no(.crmContact, "amocrm:", "empty"),
        no(.crmContact, "amocrm:0", "junk"),
        no(.crmContact, "C 88", "invalid_character", ns: "amocrm"),
        // Site login.
        ok(.userID, "Ivan_Petrov", "Ivan_Petrov"),
        ok(.userID, "42", "42"),
        no(.userID, "guest", "junk"),
        no(.userID, "anonymous", "junk"),
        no(.userID, "Иван", "invalid_character"),
        no(.userID, String(repeating: "u", count: 129), "too_long"),
    ]

    @Test(arguments: cases)
    func normalizes(_ c: Case) {
        let outcome: Outcome
        do {
            outcome = .value(try IdentifierNormalizer().normalize(c.kind, c.raw, namespace: c.namespace).value)
        } catch {
            outcome = .rejected(error.code)
        }
        #expect(outcome == c.expected)
    }

    @Test func tableIsLargeAndCoversEveryKind() {
        #expect(Self.cases.count >= 60)
        #expect(Set(Self.cases.map(\.kind)) == Set(IdentifierKind.allCases))
    }

    @Test func siteNumbersAreJunk() throws {
        var rules = JunkRules.standard
        rules.phones = ["+74950000000"]
        let normalizer = IdentifierNormalizer(junk: rules)
        #expect(throws: IdentifierRejection.junk) { try normalizer.normalize(.phone, "8 (495) 000-00-00") }
        #expect(try normalizer.normalize(.phone, "8 (495) 000-00-01").value == "+74950000001")
        #expect(try IdentifierNormalizer().normalize(.phone, "8 (495) 000-00-00").value == "+74950000000")
    }

    @Test func rejectionsExplainThemselves() {
        #expect("\(IdentifierRejection.tooShort(min: 10))" == "too short (at least 10)")
        #expect("\(IdentifierRejection.invalidCharacter("д"))".contains("U+0434"))
        #expect(Set(IdentifierKind.allCases.map(\.name)).count == IdentifierKind.allCases.count)
        for kind in IdentifierKind.allCases {
            #expect(IdentifierKind(name: kind.name) == kind)
        }
        #expect(IdentifierKind(name: "phone_number") == nil)
    }
}
