import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchWire

extension Stitch_V1_Person {
    /// The wire form of a person (query.proto `Person`), with the server's
    /// per-kind identifier caps.
    public init(_ person: Person, caps: [IdentifierKind: Int] = [:]) {
        self.init()
        personID = person.personID
        site = person.site
        identifierCount = person.identifierCount
        identifiers = person.identifiers.map(Stitch_V1_StoredIdentifier.init)
        firstSeenMs = person.firstSeenMs
        lastSeenMs = person.lastSeenMs
        eventCount = person.eventCount
        eventCounts = EventType.allCases.compactMap { type in
            guard let count = person.eventCounts[type] else { return nil }
            return .with {
                $0.type = Stitch_V1_EventType(type)
                $0.count = count
            }
        }
        identifierCaps = IdentifierKind.allCases.compactMap { kind in
            guard let cap = caps[kind] else { return nil }
            return .with {
                $0.kind = Stitch_V1_IdentifierKind(kind)
                $0.cap = UInt32(clamping: cap)
            }
        }
    }
}

extension Stitch_V1_StoredIdentifier {
    /// The wire form of one identifier of a person.
    public init(_ member: PersonIdentifier) {
        self.init()
        kind = Stitch_V1_IdentifierKind(member.identifier.kind)
        value = member.identifier.value
        firstSeenMs = member.firstSeenMs
        lastSeenMs = member.lastSeenMs
        quarantined = member.quarantined
    }
}
