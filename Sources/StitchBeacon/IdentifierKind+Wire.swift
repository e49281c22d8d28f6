import StitchIdentity
import StitchWire

// The one conversion between the domain's identifier kinds and the wire's.
// Raw values agree by construction (IdentifierKind's doc), so both directions
// are casts; the wire side also has UNSPECIFIED and unknown numbers, which no
// domain kind names.

extension IdentifierKind {
    /// The domain kind of a wire kind; `nil` for UNSPECIFIED and numbers this
    /// build does not know.
    public init?(_ wire: Stitch_V1_IdentifierKind) {
        guard wire.rawValue > 0, wire.rawValue <= Int(UInt8.max) else { return nil }
        self.init(rawValue: UInt8(wire.rawValue))
    }
}

extension Stitch_V1_IdentifierKind {
    /// The wire kind of a domain kind (total: every domain kind has one).
    public init(_ kind: IdentifierKind) {
        self = Stitch_V1_IdentifierKind(rawValue: Int(kind.rawValue)) ?? .UNRECOGNIZED(Int(kind.rawValue))
    }
}

extension EventType {
    /// The domain type of a wire type; `nil` for UNSPECIFIED and unknown numbers.
    public init?(_ wire: Stitch_V1_EventType) {
        self.init(rawValue: wire.rawValue - 1)
    }

    /// The type of a beacon's body; validated beacons always have one. A
    /// lease renewal is no event: the collector takes renewals out of a batch
    /// before preparing its events (`BatchIntake`), so none gets here.
    public init(_ body: Stitch_V1_Beacon.OneOf_Body?) {
        switch body {
        case .visit, nil: self = .visit
        case .hit: self = .hit
        case .numberShown: self = .numberShown
        case .form: self = .form
        case .call: self = .call
        case .chat: self = .chat
        case .deal: self = .deal
        case .leaseRenewal: preconditionFailure("a lease renewal is not an event: take it out before preparing")
        }
    }
}

extension Stitch_V1_EventType {
    /// The wire type of a domain type (total).
    public init(_ type: EventType) {
        self = Stitch_V1_EventType(rawValue: type.rawValue + 1) ?? .UNRECOGNIZED(type.rawValue + 1)
    }
}
