import NIOCore
import StitchWire
import Testing

/// A bad beacon is refused on its own, with a reason; its batch mates are kept.
@Suite struct BeaconValidationTests {
    static let longURL = String(repeating: "u", count: 2049)

    static let cases: [(String, @Sendable (inout Stitch_V1_Beacon) -> Void, BeaconRejection.Reason)] = [
        ("site 0", { $0.site = 0 }, .missingSite),
        ("time 0", { $0.timeMs = 0 }, .badTime),
        ("time in microseconds", { $0.timeMs = 1_767_225_600_000_000 }, .badTime),
        ("negative device time", { $0.deviceTimeMs = -1 }, .badTime),
        ("no body", { $0.body = nil }, .missingBody),
        ("17 identifiers", { $0.identifiers = Array(repeating: $0.identifiers[0], count: 17) }, .tooManyIdentifiers),
        ("kind 0", { $0.identifiers[0].kind = .unspecified }, .missingKind),
        ("unknown kind", { $0.identifiers[0].kind = .UNRECOGNIZED(99) }, .missingKind),
        ("long identifier", { $0.identifiers[0].value = String(repeating: "c", count: 257) }, .stringTooLong),
        ("long namespace", { $0.identifiers[0].namespace = String(repeating: "n", count: 65) }, .stringTooLong),
        ("long landing URL", { $0.visit.landingURL = longURL }, .stringTooLong),
        ("long utm term", { $0.visit.utmTerm = String(repeating: "t", count: 257) }, .stringTooLong),
        ("long hit goal", { $0.hit = .with { $0.goal = String(repeating: "g", count: 257) } }, .stringTooLong),
        ("long form name", { $0.form = .with { $0.phone = "1"; $0.name = String(repeating: "n", count: 257) } }, .stringTooLong),
        ("long call id", { $0.call = .with { $0.callID = String(repeating: "c", count: 257) } }, .stringTooLong),
        ("long chat id", { $0.chat = .with { $0.chatID = String(repeating: "c", count: 257) } }, .stringTooLong),
        ("deal without status", { $0.deal = .with { $0.contactID = "C1" } }, .badStatus),
        ("visit without identifiers", { $0.identifiers = [] }, .noIdentifiers),
        ("form without phone or e-mail", { $0.identifiers = []; $0.form = .with { $0.name = "Ivan" } }, .noIdentifiers),
    ]

    @Test(arguments: cases.indices)
    func rejectsBadBeaconAndKeepsTheRest(caseIndex: Int) throws {
        let (name, mutate, reason) = Self.cases[caseIndex]
        var bad = Fixtures.visit
        mutate(&bad)
        let batch = try decodeBatch(try Fixtures.batchFrame([Fixtures.visit, bad, Fixtures.visit]))
        #expect(batch.beacons == [Fixtures.visit, Fixtures.visit], "\(name)")
        #expect(batch.rejections.map(\.index) == [1], "\(name)")
        #expect(batch.rejections.first?.reason == reason, "\(name)")
        #expect(batch.rejections.first?.wireMessage.reason == reason.wireReason)
    }

    @Test func callsAndDerivedIdentifiersNeedNoExplicitIdentifier() throws {
        let bodies = Fixtures.beaconsByBody.filter { ["form", "call", "deal"].contains($0.name) }.map(\.beacon)
        #expect(bodies.allSatisfy { $0.identifiers.isEmpty })
        let batch = try decodeBatch(try Fixtures.batchFrame(bodies))
        #expect(batch.beacons.count == 3 && batch.rejections.isEmpty)
    }

    @Test func aTooLongFieldIsNamedWithItsLimit() throws {
        var visit = Fixtures.visit
        visit.visit.fbclid = String(repeating: "f", count: 257)
        var chat = Fixtures.visit
        chat.chat = .with { $0.chatID = "c1"; $0.email = String(repeating: "e", count: 257) }
        var deal = Fixtures.visit
        deal.deal = .with { $0.status = .won; $0.contactID = "C1"; $0.currency = String(repeating: "r", count: 257) }
        let batch = try decodeBatch(try Fixtures.batchFrame([visit, chat, deal]))
        #expect(batch.rejections.map(\.detail) == [
            "visit.fbclid is over 256 bytes", "chat.email is over 256 bytes", "deal.currency is over 256 bytes",
        ])
    }

    @Test func limitsAreInclusive() throws {
        var beacon = Fixtures.visit
        beacon.identifiers = Array(repeating: beacon.identifiers[0], count: 16)
        beacon.identifiers[0].value = String(repeating: "c", count: 256)
        beacon.visit.landingURL = String(repeating: "u", count: 2048)
        beacon.timeMs = WireLimits.standard.timeMsMax
        #expect(try decodeBatch(try Fixtures.batchFrame([beacon])).rejections.isEmpty)
    }
}
