import StitchIdentity

/// Limits on what one person may hold, checked inside every union
/// (DESIGN.md §4). They stop "blob users": one shared phone or junk cookie
/// linking thousands of people into one.
public struct Guards: Hashable, Sendable {
    /// Most identifiers of a kind per person; a kind not listed is unlimited.
    public var capsByKind: [IdentifierKind: Int]
    /// Most identifiers of all kinds per person.
    public var identifiersMax: Int

    public init(capsByKind: [IdentifierKind: Int], identifiersMax: Int) {
        self.capsByKind = capsByKind
        self.identifiersMax = identifiersMax
    }

    /// DESIGN.md's defaults: one `user_id` and one `crm_contact`, five phones
    /// and e-mails, fifty cookies and client ids, sessions unlimited, and
    /// 10,000 identifiers in all.
    public static let standard = Guards(
        capsByKind: [
            .userID: 1, .crmContact: 1, .phone: 5, .email: 5,
            .cookie: 50, .gaClientID: 50, .ymClientID: 50, .chat: 50,
        ],
        identifiersMax: 10_000
    )

    /// No limits at all (for tests that compare with a plain model).
    public static let off = Guards(capsByKind: [:], identifiersMax: Int(UInt32.max))

    /// Why two persons may not merge, or `nil` when they may.
    func refusal(_ a: some PersonCounts, _ b: some PersonCounts) -> ConflictReason? {
        // Two different logins are two people, whatever links them: this is
        // the user_id cap of 1 said as its own reason, and it holds even when
        // caps are configured off.
        if a.kindCount(.userID) > 0 && b.kindCount(.userID) > 0 && capsByKind[.userID] != nil {
            return .distinctUserIDs
        }
        for kind in IdentifierKind.allCases {
            guard let cap = capsByKind[kind] else { continue }
            if Int(a.kindCount(kind)) + Int(b.kindCount(kind)) > cap { return .cap(kind) }
        }
        if Int(a.size) + Int(b.size) > identifiersMax { return .identifiersMax }
        return nil
    }
}

/// What the guards look at: a person's identifiers by kind (a root's
/// `NodeRecord`, or a repair's component).
protocol PersonCounts {
    func kindCount(_ kind: IdentifierKind) -> UInt32
    var size: UInt64 { get }
}

extension NodeRecord: PersonCounts {}

/// Identifier counts by kind, for persons being rebuilt in memory.
struct KindCounts: PersonCounts {
    var counts = [UInt32](repeating: 0, count: IdentifierKind.allCases.count)

    func kindCount(_ kind: IdentifierKind) -> UInt32 { counts[Int(kind.rawValue) - 1] }
    var size: UInt64 { counts.reduce(0) { $0 + UInt64($1) } }

    mutating func add(_ kind: IdentifierKind) { counts[Int(kind.rawValue) - 1] += 1 }
    mutating func absorb(_ other: KindCounts) {
        for index in counts.indices { counts[index] += other.counts[index] }
    }
}

/// Why a union was refused; recorded in the `conflict` table.
public enum ConflictReason: Hashable, Sendable, CustomStringConvertible {
    /// Both persons hold a `user_id` (necessarily different ones).
    case distinctUserIDs
    /// The merged person would hold more identifiers of this kind than allowed.
    case cap(IdentifierKind)
    /// The merged person would hold more identifiers than allowed in all.
    case identifiersMax

    /// Every reason, for metrics declared before the first conflict.
    public static var all: [ConflictReason] {
        [.distinctUserIDs, .identifiersMax] + IdentifierKind.allCases.map(ConflictReason.cap)
    }

    /// Stored code: 0 for distinct user ids, 1 for the total, 16 + kind for caps.
    var code: UInt8 {
        switch self {
        case .distinctUserIDs: 0
        case .identifiersMax: 1
        case .cap(let kind): 16 + kind.rawValue
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .distinctUserIDs
        case 1: self = .identifiersMax
        default:
            guard code > 16, let kind = IdentifierKind(rawValue: code - 16) else { return nil }
            self = .cap(kind)
        }
    }

    /// Stable snake_case label for metrics and logs.
    public var description: String {
        switch self {
        case .distinctUserIDs: "distinct_user_ids"
        case .identifiersMax: "identifiers_max"
        case .cap(let kind): "cap_\(kind.name)"
        }
    }
}
