import StitchWire

/// The body type of an event, as stored in per-node counts. Raw values are
/// `stitch.v1.EventType` numbers minus one (array indexes).
public enum EventType: Int, CaseIterable, Sendable {
    case visit = 0, hit, numberShown, form, call, chat, deal

    init(_ body: Stitch_V1_Beacon.OneOf_Body?) {
        switch body {
        case .visit, nil: self = .visit  // validated beacons always have a body
        case .hit: self = .hit
        case .numberShown: self = .numberShown
        case .form: self = .form
        case .call: self = .call
        case .chat: self = .chat
        case .deal: self = .deal
        }
    }

    /// The `stitch.v1.EventType` of this type.
    public var wireType: Stitch_V1_EventType {
        Stitch_V1_EventType(rawValue: rawValue + 1)!
    }
}
