/// Every bound identifier normalization enforces, in one place (STYLE.md:
/// limits on everything). The wire's own size limits (`WireLimits`) are
/// checked first; these are the rules of each identifier kind, and they are
/// documented per kind in `proto/FRAMING.md`.
public enum IdentifierLimits {
    /// Longest digit run read from a phone: E.164's 15 plus an `810` prefix
    /// and slack. The E.164 result itself is at most 15 digits.
    public static let phoneDigitsMax = 20
    /// Most digits of an E.164 number.
    public static let e164DigitsMax = 15
    /// Longest e-mail address (RFC 5321 path limit), in bytes.
    public static let emailBytesMax = 254
    /// Longest e-mail local part, in bytes.
    public static let emailLocalBytesMax = 64
    /// Longest domain label, in bytes.
    public static let emailLabelBytesMax = 63
    /// Most digits in one part of a Google or Yandex client id.
    public static let clientIDDigitsMax = 20
    /// Fewest digits of a Yandex client id.
    public static let ymClientIDDigitsMin = 6
    /// Shortest tracker cookie or session id: shorter ones collide across
    /// visitors and would glue strangers together.
    public static let trackerIDBytesMin = 8
    /// Longest cookie, session, user id, or chat/CRM id after its namespace.
    public static let tokenBytesMax = 128
    /// Longest chat/CRM namespace (`jivo`, `amocrm`, …).
    public static let namespaceBytesMax = 32
}
