import StitchBeacon
import StitchGraph
import StitchWire

extension Stitch_V1_PersonGraphResponse {
    /// The wire form of a person's graph (query.proto `PersonGraphResponse`).
    public init(_ graph: PersonGraph) {
        self.init()
        personID = graph.personID
        identifierCount = UInt64(graph.identifierCount)
        identifiersOffset = UInt32(clamping: graph.identifiersOffset)
        identifiers = graph.identifiers.map(Stitch_V1_StoredIdentifier.init)
        links = graph.links.map { link in
            .with {
                $0.eventSeq = link.eventSeq
                $0.eventType = Stitch_V1_EventType(link.eventType)
                $0.timeMs = link.timeMs
                $0.via = link.via
                $0.nodes = link.nodes.map { UInt32($0) }
                $0.events = UInt64(link.events)
            }
        }
        refusals = graph.refusals.map { refusal in
            .with {
                $0.eventSeq = refusal.eventSeq
                $0.eventType = Stitch_V1_EventType(refusal.eventType)
                $0.timeMs = refusal.timeMs
                $0.nodes = refusal.nodes.map { UInt32($0) }
                $0.other = Stitch_V1_StoredIdentifier(refusal.other)
                $0.otherPersonID = refusal.otherPersonID
                $0.reason = refusal.reason
                $0.events = UInt64(refusal.events)
            }
        }
        linksOmitted = UInt64(graph.linksOmitted)
    }
}
