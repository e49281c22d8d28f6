/// The automatic shared-identifier rule (issue 13): a phone or e-mail that
/// alone bridges more than `linksMax` persons that existed before the event
/// (a device's cookie, a visitor's session) within `periodMs` of event time
/// is a hub — an office phone, a manager's e-mail typed into a client's form —
/// and is quarantined, its person re-derived without it.
///
/// What counts as a link: an event carrying the identifier (already known)
/// joins, or tries to join (a guard may refuse), its person with another
/// person that existed before the event, and no other identifier of the event
/// is already in the identifier's person. So one person's phone typed on
/// their second and third devices makes 2 links, a family of four devices 3,
/// and a form that repeats the visitor's own e-mail beside the phone makes
/// none: only an identifier that is the sole evidence of a link counts.
/// The window is tumbling: the count restarts at the first link more than
/// `periodMs` after the window began.
public struct HubRule: Hashable, Sendable {
    /// Links allowed within the period; one more quarantines. 0 turns the rule off.
    public var linksMax: Int
    /// The period, in event time.
    public var periodMs: Int64

    public init(linksMax: Int = 4, periodMs: Int64 = 30 * 86_400_000) {
        self.linksMax = linksMax
        self.periodMs = periodMs
    }

    /// Four links (five devices) in 30 days: beyond a person's own devices
    /// or a family's, far below what an office phone makes on a busy site.
    public static let standard = HubRule()
    public static let off = HubRule(linksMax: 0)

    var isOn: Bool { linksMax > 0 }
}
