/// The automatic shared-identifier rule (issues 13 and 30): a phone or e-mail
/// that alone joins distinguishable persons more than `linksMax` times within
/// `periodMs` of event time is a hub — an office phone, a manager's e-mail
/// typed into a client's form — and is quarantined, its person re-derived
/// without it.
///
/// What counts as a link: an event carrying the identifier (already known)
/// joins, or tries to join (a guard may refuse), its person with the persons
/// of the event's other identifiers; no other identifier of the event is
/// already in the identifier's person (it is the sole evidence); and the two
/// sides are distinguishable: each holds a personal identifier (phone,
/// e-mail, user id, CRM contact; `IdentifierKind.isPersonal`) of one kind,
/// the candidate itself not counted. Two such identifiers of one kind in two
/// persons are two values, so, most likely, two humans.
///
/// Why only distinguishable persons: a pile of cookies and sessions without
/// a personal identifier of its own is what a person's next device, or next
/// weekly-reset Safari cookie, looks like — not evidence of a second human.
/// A repeat customer who types their phone on eight new cookies makes no
/// link; an office phone typed by visitors who leave their own e-mail, or a
/// salesperson's e-mail typed beside each customer's phone, links a new
/// human each time. The price: an office phone typed only by visitors who
/// leave nothing of their own is not caught (they join its person; the
/// per-kind caps bound it), and is quarantined once enough visitors who do
/// leave their own identifiers have typed it; the repair then splits every
/// visitor off.
///
/// One person's e-mail typed beside a second phone of theirs is one link; a
/// household of three with one shared phone, two. The window is tumbling:
/// the count restarts at the first link more than `periodMs` after the
/// window began.
public struct HubRule: Hashable, Sendable {
    /// Links allowed within the period; one more quarantines. 0 turns the rule off.
    public var linksMax: Int
    /// The period, in event time.
    public var periodMs: Int64

    public init(linksMax: Int = 2, periodMs: Int64 = 30 * 86_400_000) {
        self.linksMax = linksMax
        self.periodMs = periodMs
    }

    /// Two links (three distinguishable persons) in 30 days: a household
    /// sharing one phone, or a person's second phone or e-mail, stays one;
    /// a fourth human with their own identifier trips it. Only links
    /// between distinguishable persons count, so a repeat customer's new
    /// cookies never do, and a small count is still strong evidence.
    public static let standard = HubRule()
    public static let off = HubRule(linksMax: 0)
    /// Devices: three links (four distinguishable persons on one browser) in
    /// 30 days. A household typing its two or three phones on one computer,
    /// or a person who mistyped their e-mail twice, stays one person; a
    /// kiosk, a shared office PC or an internet café's browser trips at its
    /// fifth person who leaves a phone, an e-mail or a login of their own.
    public static let devices = HubRule(linksMax: 3)

    var isOn: Bool { linksMax > 0 }
}
