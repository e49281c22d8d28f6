@testable import StitchGraph
import StitchIdentity
import StitchTesting
import StitchWire
import Testing

/// Splitting persons: quarantine and its release, the shared-identifier rule,
/// erasure — each checked through lookups, histories, the change feed and
/// the verifier.
@Suite("Repairing persons")
struct RepairTests {
    static let t0: Int64 = 1_767_225_600_000
    static let office = "+74951234567"

    static func phone(_ value: String) -> NormalizedIdentifier { NormalizedIdentifier(uncheckedKind: .phone, value: value) }
    static func cookie(_ value: String) -> NormalizedIdentifier { NormalizedIdentifier(uncheckedKind: .cookie, value: value) }

    /// Visitors 1…n: a visit each, then a form with the office phone (and
    /// visitor 1 also with their own e-mail), so the phone glues them.
    static func glued(_ test: TestGraph, visitors: Int) throws {
        var time = t0
        for visitor in 1...visitors {
            time += 60_000
            try test.apply([Beacons.hit(time: time, [(.cookie, "cookie-visitor-\(visitor)"), (.session, "session-visitor-\(visitor)")])])
        }
        for visitor in 1...visitors {
            time += 60_000
            try test.apply([Beacons.form(time: time, cookie: "cookie-visitor-\(visitor)", phone: office, email: visitor == 1 ? "one@mail.ru" : "")])
        }
    }

    static func sound(_ test: TestGraph) throws {
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.isSound, "\(report.violations)")
    }

    @Test("quarantining a shared phone splits its person into the visitors; ids stay stable; the feed says so")
    func quarantineSplits() throws {
        let test = try TestGraph(configuration: GraphConfiguration(defaultRules: SiteRules(hub: .off, device: .off)))
        try Self.glued(test, visitors: 4)
        let blob = try #require(try test.person(.cookie, "cookie-visitor-1"))
        for visitor in 2...4 { #expect(try test.person(.cookie, "cookie-visitor-\(visitor)") == blob, "glued before the repair") }
        let oldIDs = try (1...4).map { visitor in
            try #require(try test.graph.environment.read { txn in
                try test.graph.identNode(site: 1, identifier: Self.cookie("cookie-visitor-\(visitor)"), txn)
            })
        }
        let changesBefore = try test.graph.totals().merges

        let result = try test.graph.quarantine(site: 1, identifier: Self.phone(Self.office), reason: "reception desk", nowMs: IdentityGraph.wallClockMs())
        #expect(result.changed)
        let persons = try (1...4).map { try #require(try test.person(.cookie, "cookie-visitor-\($0)")) }
        #expect(Set(persons).count == 4, "each visitor is a person again")
        #expect(persons[0] == blob, "the part with the oldest identifier keeps the id")
        #expect(try test.person(.phone, Self.office) == result.identifierNode, "the phone stands alone")
        #expect(try test.person(.email, "one@mail.ru") == persons[0], "visitor 1's own e-mail stays theirs")
        for (index, id) in oldIDs.enumerated() {
            #expect(try test.graph.lookup(site: 1, personID: id)?.personID == persons[index], "an old id resolves to its part")
        }
        // Each visitor's history holds their visit and their form.
        for visitor in 1...4 {
            let page = try #require(try test.graph.history(site: 1, identifier: Self.cookie("cookie-visitor-\(visitor)"), query: HistoryQuery()))
            #expect(page.events.map(\.type) == [.hit, .form], "visitor \(visitor)")
        }
        let changes = try test.graph.merges(after: changesBefore, limit: 10)
        #expect(changes.count == 1)
        #expect(changes.first?.kind == .split && changes.first?.reason == .quarantine)
        #expect(changes.first?.winner == blob && Set(changes.first!.parts) == Set(persons.dropFirst() + [result.identifierNode]))
        let shared = try test.graph.shared(site: 1, limit: 10)
        #expect(shared.map(\.identifier.value) == [Self.office] && shared.first?.record.reason == "reception desk")
        #expect(shared.first?.events == 4, "the four forms that carried it are listed")
        try Self.sound(test)

        // A later form with the phone links nothing, and is listed.
        try test.apply([Beacons.form(time: Self.t0 + 10_000_000, cookie: "cookie-visitor-2", phone: Self.office)])
        #expect(try test.person(.cookie, "cookie-visitor-2") == persons[1])
        #expect(try test.graph.shared(site: 1, limit: 10).first?.events == 5)
        #expect(try test.graph.quarantine(site: 1, identifier: Self.phone(Self.office), reason: "again", nowMs: IdentityGraph.wallClockMs()).changed == false)
        try Self.sound(test)

        // Released: its events link it again, with merges saying why.
        let released = try #require(try test.graph.unquarantine(site: 1, identifier: Self.phone(Self.office), nowMs: IdentityGraph.wallClockMs()))
        #expect(released.changed)
        for visitor in 1...4 { #expect(try test.person(.cookie, "cookie-visitor-\(visitor)") == blob) }
        let relinks = try test.graph.merges(after: changesBefore + 1, limit: 10)
        #expect(relinks.count == 4 && relinks.allSatisfy { $0.kind == .merge && $0.reason == .unquarantine })
        #expect(try test.graph.shared(site: 1, limit: 10).isEmpty)
        try Self.sound(test)
    }

    @Test("an identifier quarantined before it is seen never links")
    func quarantineAhead() throws {
        let test = try TestGraph()
        let result = try test.graph.quarantine(site: 1, identifier: Self.phone(Self.office), reason: "reception", nowMs: IdentityGraph.wallClockMs())
        #expect(result.changed && result.personIDs == [result.identifierNode])
        try test.apply([
            Beacons.form(time: Self.t0, cookie: "cookie-visitor-1", phone: Self.office),
            Beacons.form(time: Self.t0 + 1, cookie: "cookie-visitor-2", phone: Self.office),
        ])
        #expect(try test.person(.cookie, "cookie-visitor-1") != test.person(.cookie, "cookie-visitor-2"))
        #expect(try test.person(.phone, Self.office) == result.identifierNode)
        try Self.sound(test)
    }

    @Test("the shared-identifier rule quarantines an office phone typed by visitors who leave their own e-mail, and leaves a person's own devices and a family linked")
    func automaticHub() throws {
        let test = try TestGraph()  // the standard rule: more than 2 links in 30 days
        var time = Self.t0
        func visit(_ cookie: String) throws {
            time += 60_000
            try test.apply([Beacons.hit(time: time, [(.cookie, cookie), (.session, "session-\(cookie)-\(time)")])])
        }
        // One person, three devices, their phone and e-mail typed on each.
        for device in 1...3 { try visit("cookie-anna-device-\(device)") }
        for device in 1...3 {
            time += 60_000
            try test.apply([Beacons.form(time: time, cookie: "cookie-anna-device-\(device)", phone: "+79161111111", email: "anna@gmail.com")])
        }
        // A family of four devices sharing one phone.
        for device in 1...4 { try visit("cookie-family-device-\(device)") }
        for device in 1...4 {
            time += 60_000
            try test.apply([Beacons.form(time: time, cookie: "cookie-family-device-\(device)", phone: "+79162222222")])
        }
        // Twelve unrelated visitors type the office phone, each with their own e-mail.
        for visitor in 1...12 { try visit("cookie-visitor-\(visitor)") }
        var trippedAt = 0
        for visitor in 1...12 {
            time += 60_000
            let report = try test.apply([
                Beacons.form(time: time, cookie: "cookie-visitor-\(visitor)", phone: Self.office, email: "visitor\(visitor)@mail.ru")
            ])
            if report.quarantined > 0 { trippedAt = visitor }
        }
        #expect(trippedAt == 4, "two links allowed (visitor 1 brings the phone, 2 and 3 link), the next one trips")
        let anna = try test.person(.cookie, "cookie-anna-device-1")
        #expect(try (2...3).allSatisfy { try test.person(.cookie, "cookie-anna-device-\($0)") == anna })
        let family = try test.person(.cookie, "cookie-family-device-1")
        #expect(try (2...4).allSatisfy { try test.person(.cookie, "cookie-family-device-\($0)") == family })
        let visitors = try (1...12).map { try test.person(.cookie, "cookie-visitor-\($0)") }
        #expect(Set(visitors).count == 12, "no two visitors share a person")
        #expect(try (1...12).allSatisfy { try test.person(.email, "visitor\($0)@mail.ru") == visitors[$0 - 1] }, "each keeps their e-mail")
        let shared = try test.graph.shared(site: 1, limit: 10)
        #expect(shared.count == 1 && shared.first?.identifier.value == Self.office)
        #expect(shared.first?.record.source == .automatic && shared.first?.record.links == 3)
        let explained = try test.graph.explain(site: 1, a: Self.cookie("cookie-visitor-7"), b: Self.phone(Self.office))
        #expect(explained.verdict == .refused && explained.refusal?.reason.hasPrefix("quarantined (automatic") == true)
        #expect(explained.refusal?.eventSeq != 0, "the event that tipped the rule")
        let splits = try test.graph.merges(after: 0, limit: 1000).filter { $0.kind == .split }
        #expect(splits.count == 1 && splits.first?.reason == .sharedIdentifier && splits.first?.causeEvent != 0)
        try Self.sound(test)
    }

    @Test("forget erases the whole person, keeps only hashes, and suppresses later beacons carrying its identifiers")
    func forget() throws {
        let test = try TestGraph()
        try test.apply([
            Beacons.hit(time: Self.t0, [(.cookie, "cookie-gone-1"), (.session, "session-gone-1")]),
            Beacons.form(time: Self.t0 + 1, cookie: "cookie-gone-1", phone: "+79163333333", email: "gone@mail.ru"),
            Beacons.hit(time: Self.t0 + 2, [(.cookie, "cookie-stays-1"), (.session, "session-stays-1")]),
        ])
        let gone = try #require(try test.person(.phone, "+79163333333"))
        let totals = try test.graph.totals()
        let erasure = try #require(try test.graph.forget(site: 1, identifier: Self.phone("+79163333333"), nowMs: IdentityGraph.wallClockMs()))
        #expect(erasure.personID == gone && erasure.identifiers == 4 && erasure.events == 2)
        #expect(erasure.identifierHash.count == 32)
        #expect(try test.person(.cookie, "cookie-gone-1") == nil && test.person(.email, "gone@mail.ru") == nil)
        #expect(try test.graph.lookup(site: 1, personID: gone) == nil, "the old id resolves to no one")
        #expect(try test.graph.totals().events == totals.events - 2 && test.graph.totals().persons == totals.persons - 1)
        #expect(try test.person(.cookie, "cookie-stays-1") != nil)
        #expect(try test.graph.merges(after: 0, limit: 100).last?.kind == .erase)
        #expect(try test.graph.erasures(after: 0, limit: 10) == [erasure])
        try Self.sound(test)

        let report = try test.apply([
            Beacons.hit(time: Self.t0 + 3, [(.cookie, "cookie-gone-1"), (.session, "session-gone-2")]),
            Beacons.hit(time: Self.t0 + 4, [(.cookie, "cookie-new-1")]),
        ])
        #expect(report.suppressed == [0] && report.events == 1)
        #expect(try test.person(.session, "session-gone-2") == nil, "nothing of a suppressed beacon is stored")
        try test.reopen()
        #expect(try test.apply([Beacons.form(time: Self.t0 + 5, cookie: "cookie-other", email: "gone@mail.ru")]).suppressed == [0])
        try Self.sound(test)
    }
}
