/// What an identifier value names.
///
/// Raw values equal the field numbers of `stitch.v1.IdentifierKind` in
/// `proto/beacon.proto`, so converting between the two is a cast, and they are
/// part of the storage key: never renumber a case.
public enum IdentifierKind: UInt8, CaseIterable, Hashable, Sendable {
    /// Our tracker's first-party visitor id.
    case cookie = 1
    /// One visit.
    case session = 2
    /// Google Analytics client id (`_ga` cookie without its `GA1.N.` prefix).
    case gaClientID = 3
    /// Yandex Metrica client id (`_ym_uid`).
    case ymClientID = 4
    /// A phone number in E.164 form.
    case phone = 5
    /// An e-mail address.
    case email = 6
    /// A chat-widget visitor; the value is namespaced by the chat provider.
    case chat = 7
    /// A CRM contact; the value is namespaced by the CRM.
    case crmContact = 8
    /// The site's own login id.
    case userID = 9

    /// The name used in DESIGN.md, the CLI and logs (`ga_client_id`, …).
    public var name: String {
        switch self {
        case .cookie: "cookie"
        case .session: "session"
        case .gaClientID: "ga_client_id"
        case .ymClientID: "ym_client_id"
        case .phone: "phone"
        case .email: "email"
        case .chat: "chat"
        case .crmContact: "crm_contact"
        case .userID: "user_id"
        }
    }

    /// Finds a kind by its `name`; `nil` for an unknown name.
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// Whether a value of this kind names one human: a phone, an e-mail, a
    /// login or a CRM contact — not a device, a visit or a chat. Two persons
    /// that each hold one of the same kind are told apart by it (the
    /// shared-identifier rule counts only links between such persons).
    public var isPersonal: Bool {
        self == .phone || self == .email || self == .userID || self == .crmContact
    }

    /// Whether a value of this kind names a browser: the tracker's cookie or
    /// an analytics client id. Many people may use one (a kiosk, an office
    /// PC); the shared-device rule watches these.
    public var isDevice: Bool {
        self == .cookie || self == .gaClientID || self == .ymClientID
    }

    /// Whether values of this kind carry a namespace (`provider:value`).
    public var isNamespaced: Bool {
        self == .chat || self == .crmContact
    }
}

extension IdentifierKind: CustomStringConvertible {
    public var description: String { name }
}
