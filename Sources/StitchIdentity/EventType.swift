/// The body type of an event (DESIGN.md §2), as the graph counts and filters
/// it. Raw values are `stitch.v1.EventType` numbers minus one, so they index
/// per-type arrays and are stored in the event index: never renumber a case.
public enum EventType: Int, CaseIterable, Hashable, Sendable {
    case visit = 0, hit, numberShown, form, call, chat, deal

    /// Types that are conversions: they get unique/target flags and, when they
    /// bring value, credits (read-time attribution needs them and the visits
    /// before them).
    public var isConversion: Bool {
        switch self {
        case .form, .call, .chat, .deal: true
        case .visit, .hit, .numberShown: false
        }
    }
}
