import StitchBeacon
@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchWire
import Testing

/// The deal directory: a deal seen with its contact is remembered, a later
/// event of the deal without one is given it, a deal moved to another
/// contact follows it, an erased contact takes its deals along — and the
/// verifier holds the directory to all of that.
@Suite("Deal directory")
struct DealDirectoryTests {
    static let t0: Int64 = 1_767_225_600_000

    static func deal(_ id: String, contact: String = "", status: Stitch_V1_DealStatus, time: Int64) -> Stitch_V1_Beacon {
        .with {
            $0.site = 1
            $0.timeMs = time
            $0.deal = .with {
                $0.crm = "amocrm"
                $0.dealID = id
                $0.contactID = contact
                $0.status = status
            }
        }
    }

    static func apply(_ test: TestGraph, _ beacon: Stitch_V1_Beacon) throws -> PreparedEvent {
        var preparer = EventPreparer(rules: test.graph, deals: test.graph)
        let event = preparer.prepare(beacon, receivedMs: 1)
        try test.graph.apply([event], nowMs: IdentityGraph.wallClockMs())
        return event
    }

    static func sound(_ test: TestGraph) throws {
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.isSound, "\(report.violations)")
    }

    @Test("a status change naming only its deal joins the deal's contact; a moved deal follows; an erased contact takes its deals")
    func directory() throws {
        let test = try TestGraph()
        let opened = try Self.apply(test, Self.deal("D-1044", contact: "77120", status: .open, time: Self.t0))
        let key = try #require(opened.dealKey)
        #expect(test.graph.dealContact(site: 1, dealKey: key)?.value == "amocrm:77120")
        #expect(test.graph.dealContact(site: 2, dealKey: key) == nil, "deals are per site")

        let won = try Self.apply(test, Self.deal("D-1044", status: .won, time: Self.t0 + 1))
        #expect(won.identifiers.map(\.value) == ["amocrm:77120"] && won.dealContactIndex == 0)
        let contact = try #require(try test.person(.crmContact, "amocrm:77120"))
        let history = try #require(try test.graph.history(site: 1, personID: contact, query: HistoryQuery()))
        #expect(history.events.count == 2)
        try Self.sound(test)

        // The CRM moved the deal to another contact: the directory follows.
        _ = try Self.apply(test, Self.deal("D-1044", contact: "88231", status: .open, time: Self.t0 + 2))
        #expect(test.graph.dealContact(site: 1, dealKey: key)?.value == "amocrm:88231")
        try Self.sound(test)

        // An unknown deal finds no one.
        #expect(try Self.apply(test, Self.deal("D-9", status: .won, time: Self.t0 + 3)).identifiers.isEmpty)

        _ = try test.graph.forget(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .crmContact, value: "amocrm:88231"), nowMs: IdentityGraph.wallClockMs())
        #expect(test.graph.dealContact(site: 1, dealKey: key) == nil, "an erased contact's deals are forgotten")
        try Self.sound(test)
        let after = try test.graph.environment.read { txn in try txn.count(test.graph.tables.deal) }
        #expect(after == 0, "no entry names the erased contact")
    }

    @Test("the verifier finds a deal not listed under its contact")
    func verifierCatchesUnlistedDeal() throws {
        let test = try TestGraph()
        let event = try Self.apply(test, Self.deal("D-7", contact: "5001", status: .open, time: Self.t0))
        let dealKey = try #require(event.dealKey)
        let deleted = try test.graph.environment.write { txn in
            try txn.delete(test.graph.tables.deal, StoreKeys.dealContactKey(site: 1, contact: "amocrm:5001".utf8, dealKey: dealKey.utf8))
        }
        #expect(deleted, "the listing was there")
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(!report.isSound)
        #expect(report.violations.contains { $0.contains("not listed under its contact") }, "\(report.violations)")
    }
}
