import StitchBeacon
import StitchGraph
import StitchWire

extension Stitch_V1_Event {
    /// The wire form of a stored event: its beacon as received, with the
    /// normalized identifiers in place of the raw ones, and its call match.
    public init(_ record: EventRecord) {
        self.init()
        seq = record.seq
        beacon = StoredBeacon.decode(record.body, identifiers: record.identifiers, seq: record.seq)
        receivedMs = record.receivedMs
        if let match = record.callMatch { callMatch = Stitch_V1_CallMatch(match) }
    }
}

extension Stitch_V1_CallMatch {
    /// The wire form of how call tracking placed a call.
    public init(_ match: CallMatch) {
        self.init()
        trackingNumber = match.trackingNumber
        switch match.kind {
        case .session: kind = .session
        case .staticNumber: kind = .static
        case .unknown: kind = .unknown
        case .office: kind = .office
        }
        session = match.session ?? ""
        if let source = match.source {
            self.source = .with {
                $0.kind = .staticNumber
                $0.source = source.source
                $0.medium = source.medium
                $0.campaign = source.campaign
            }
        }
    }
}
