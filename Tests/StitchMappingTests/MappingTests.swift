@testable import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire
import Testing

/// Graph types to protobuf and back: the one place the two meet, checked
/// case by case so a new case on either side cannot map to the wrong one.
@Suite("Graph types ↔ protobuf")
struct MappingTests {
    @Test("a number pool normalizes from the wire and goes back unchanged; a number in two roles is refused")
    func numberPool() throws {
        let pool = try NumberPool(Stitch_V1_NumberPool.with {
            $0.dynamicNumbers = ["+7 (495) 100-00-01", "8 495 100 00 02"]
            $0.holdSeconds = 600
            $0.fallbackNumber = "+7 495 100-00-99"
            $0.staticNumbers = [.with {
                $0.number = "+7 495 200-00-00"
                $0.utmSource = "billboard"
                $0.utmMedium = "offline"
            }]
            $0.officeNumbers = ["+7 495 000-00-02"]
        })
        #expect(pool.dynamicNumbers == ["+74951000001", "+74951000002"])
        #expect(pool.holdMs == 600_000 && pool.fallbackNumber == "+74951000099")
        #expect(pool.wire.staticNumbers.map(\.number) == ["+74952000000"] && pool.wire.officeNumbers == ["+74950000002"])
        #expect(try NumberPool(pool.wire) == pool, "the wire form is a fixed point")
        #expect(throws: NumberPoolError.duplicate("+74951000001")) {
            try NumberPool(Stitch_V1_NumberPool.with {
                $0.dynamicNumbers = ["+7 495 100-00-01"]
                $0.officeNumbers = ["8 (495) 100-00-01"]
            })
        }
    }

    @Test("every change kind and reason maps to the wire case of the same meaning")
    func changeRecords() {
        let kinds: [(ChangeRecord.Kind, Stitch_V1_ChangeKind)] = [(.merge, .merge), (.split, .split), (.erase, .erase)]
        for (kind, wire) in kinds {
            #expect(Stitch_V1_Merge(ChangeRecord(seq: 1, kind: kind, reason: .linked, site: 1, timeMs: 0, winner: 1)).kind == wire)
        }
        let reasons: [(ChangeRecord.Reason, Stitch_V1_ChangeReason)] = [
            (.linked, .unspecified), (.quarantine, .quarantine), (.unquarantine, .unquarantine), (.junk, .junk),
            (.sharedIdentifier, .sharedIdentifier), (.forget, .forget),
        ]
        for (reason, wire) in reasons {
            #expect(Stitch_V1_Merge(ChangeRecord(seq: 1, kind: .merge, reason: reason, site: 1, timeMs: 0, winner: 1)).reason == wire)
        }
        let split = Stitch_V1_Merge(ChangeRecord(seq: 9, kind: .split, reason: .quarantine, site: 7, timeMs: 5, winner: 3, identifierNode: 4, parts: [11, 12]))
        #expect(split.seq == 9 && split.site == 7 && split.winner == 3 && split.splitInto == [11, 12] && split.identifierNode == 4)
    }

    @Test("a person's event counts go out by type in the protocol's order, with their total")
    func person() {
        let person = Person(
            personID: 5, site: 2, identifierCount: 2, firstSeenMs: 10, lastSeenMs: 20,
            eventCounts: [.form: 1, .visit: 3, .hit: 7],
            identifiers: [PersonIdentifier(identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+79160000001"), firstSeenMs: 10)])
        let wire = Stitch_V1_Person(person)
        #expect(wire.eventCounts.map(\.type) == [.visit, .hit, .form])
        #expect(wire.eventCounts.map(\.count) == [3, 7, 1] && wire.eventCount == 11)
        #expect(wire.identifiers.map(\.kind) == [.phone] && wire.identifiers.map(\.value) == ["+79160000001"])
    }
}
