import StitchGraph
import StitchIdentity
import StitchWire
import Testing

@Suite struct GuardTests {
    static let officePhone = "8 (495) 000-00-00"

    @Test func officePhoneOnAThousandFormsDoesNotMakeOnePerson() throws {
        let test = try TestGraph()
        let beacons = (0..<1000).map { Beacons.form(time: 1_000 + Int64($0), cookie: "visitor-\($0)-cookie", phone: Self.officePhone) }
        let report = try test.apply(beacons)
        var persons: [UInt64: Int] = [:]
        for index in 0..<1000 {
            persons[try #require(try test.person(.cookie, "visitor-\(index)-cookie")), default: 0] += 1
        }
        // The cookie cap (50) stops the phone's person at 50 visitors.
        #expect(persons.values.max() == 50)
        #expect(persons.count >= 1000 - 49)
        #expect(report.conflicts["cap_cookie"] == 950)
        let phonePerson = try #require(try test.graph.lookup(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+74950000000"), includeIdentifiers: true))
        #expect(phonePerson.identifiers.filter { $0.identifier.kind == .cookie }.count == 50)
    }

    /// The guards without the shared-device rule, which would quarantine a
    /// cookie that gathers many phones or e-mails before the caps are reached.
    static let capsOnly = GraphConfiguration(defaultRules: SiteRules(device: .off))

    @Test func anEventWhoseLinkIsRefusedStaysWithMostOfItsIdentifiers() throws {
        // A person already at the e-mail cap (5), then a form with a sixth
        // e-mail: the link is refused, and the form belongs to the visitor
        // (cookie and session), not to the lone new e-mail's person. The
        // caps alone: six e-mails on one cookie is also what the shared-device
        // rule looks for, so it is off here.
        let test = try TestGraph(configuration: Self.capsOnly)
        let setup = (0..<5).map { Beacons.form(time: 1_000 + Int64($0), cookie: "visitor-1-cookie", email: "mail\($0)@mail.ru") }
        try test.apply(setup)
        var form = Beacons.form(time: 2_000, cookie: "visitor-1-cookie", email: "mail9@mail.ru")
        form.identifiers.append(.with {
            $0.kind = .session
            $0.value = "session-of-visitor-1"
        })
        let report = try test.apply([form])
        #expect(report.conflicts["cap_email"] == 1)
        let visitor = try #require(try test.person(.cookie, "visitor-1-cookie"))
        let lone = try #require(try test.person(.email, "mail9@mail.ru"))
        #expect(visitor != lone)
        let history = try #require(try test.graph.history(site: 1, personID: visitor, query: HistoryQuery()))
        #expect(history.events.map(\.timeMs).contains(2_000), "the refused form is in the visitor's history")
        let loneHistory = try #require(try test.graph.history(site: 1, personID: lone, query: HistoryQuery()))
        #expect(loneHistory.events.isEmpty)
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }

    @Test func officePhoneDeclaredJunkLinksNobody() throws {
        var rules = SiteRules()
        rules.junk.phones = ["+74950000000"]
        let test = try TestGraph(configuration: GraphConfiguration(sites: [1: rules]))
        let beacons = (0..<200).map { Beacons.form(time: 1_000 + Int64($0), cookie: "visitor-\($0)-cookie", phone: Self.officePhone) }
        let report = try test.apply(beacons)
        #expect(report.merges == 0)
        #expect(report.identifiersRejected["junk"] == 200)
        #expect(try test.graph.totals().persons == 200)
        #expect(try test.person(.phone, "+74950000000") == nil, "a junk value is never stored")
    }

    @Test func junkCookiesNeverLink() throws {
        let test = try TestGraph()
        let junk = ["undefined", "null", "[object Object]", "\"undefined\"", "0", "00000000-0000-0000-0000-000000000000", "{{cid}}"]
        let beacons = (0..<100).map { index in
            Beacons.hit(time: 1_000 + Int64(index), [(.cookie, junk[index % junk.count]), (.session, "session-\(index)-abc")])
        }
        let report = try test.apply(beacons)
        #expect(report.merges == 0)
        #expect(report.identifiersRejected["junk"] == 100)
        #expect(try test.graph.totals().persons == 100)
        #expect(Set(try (0..<100).map { try test.person(.session, "session-\($0)-abc") }).count == 100)
    }

    @Test func twoUserIDsRefuseToMergeAndTheConflictIsRecorded() throws {
        let test = try TestGraph()
        try test.apply([
            Beacons.hit(time: 1_000, [(.userID, "alice"), (.cookie, "cookie-alice-1")]),
            Beacons.hit(time: 2_000, [(.userID, "bob"), (.cookie, "cookie-bob-1")]),
        ])
        // A shared device: Bob logs in on Alice's browser.
        let report = try test.apply([Beacons.hit(time: 3_000, [(.cookie, "cookie-alice-1"), (.userID, "bob")])])
        #expect(report.conflicts == ["distinct_user_ids": 1])
        #expect(report.events == 1, "the event is stored even though the union was refused")
        let alice = try #require(try test.person(.userID, "alice"))
        let bob = try #require(try test.person(.userID, "bob"))
        #expect(alice != bob)
        let conflicts = try test.graph.conflicts(after: 0, limit: 10)
        #expect(conflicts.count == 1)
        #expect(conflicts.first?.reason == .distinctUserIDs)
        #expect(Set([conflicts[0].personA, conflicts[0].personB]) == Set([alice, bob]))
        #expect(conflicts.first?.causeEvent == report.eventSeqs.first)
        // One identifier each: the tie goes to the person of the newest one.
        let history = try #require(try test.graph.history(site: 1, personID: bob, query: HistoryQuery()))
        #expect(history.events.map(\.seq).contains(report.eventSeqs[0]))
    }

    @Test func capsArePerPersonAndPerKind() throws {
        let test = try TestGraph(configuration: Self.capsOnly)
        let phones = (0..<6).map { "+7916100000\($0)" }
        let emails = (0..<5).map { "a\($0)@mail.ru" }
        var beacons = phones.enumerated().map { Beacons.hit(time: 1_000 + Int64($0.offset), [(.cookie, "cookie-one-x"), (.phone, $0.element)]) }
        beacons += emails.enumerated().map { Beacons.hit(time: 2_000 + Int64($0.offset), [(.cookie, "cookie-one-x"), (.email, $0.element)]) }
        // Another person may hold five phones of its own.
        beacons += (0..<5).map { Beacons.hit(time: 3_000 + Int64($0), [(.cookie, "cookie-two-x"), (.phone, "+7916200000\($0)")]) }
        let report = try test.apply(beacons)
        #expect(report.conflicts == ["cap_phone": 1])
        let one = try #require(try test.person(.cookie, "cookie-one-x"))
        let two = try #require(try test.person(.cookie, "cookie-two-x"))
        #expect(try (0..<5).allSatisfy { try test.person(.phone, phones[$0]) == one })
        #expect(try test.person(.phone, phones[5]) != one, "the sixth phone stays apart")
        #expect(try emails.allSatisfy { try test.person(.email, $0) == one }, "e-mails have their own cap")
        #expect(try (0..<5).allSatisfy { try test.person(.phone, "+7916200000\($0)") == two })
        let person = try #require(try test.graph.lookup(site: 1, personID: one))
        #expect(person.identifierCount == 11)
    }

    @Test func sitesNeverSharePersons() throws {
        let test = try TestGraph()
        try test.apply([
            Beacons.hit(site: 1, time: 1, [(.phone, "+79161234567"), (.cookie, "cookie-site-1")]),
            Beacons.hit(site: 2, time: 2, [(.phone, "+79161234567"), (.cookie, "cookie-site-2")]),
        ])
        let one = try test.person(.phone, "+79161234567", site: 1)
        let two = try test.person(.phone, "+79161234567", site: 2)
        #expect(one != nil && two != nil && one != two)
        #expect(try test.graph.lookup(site: 2, personID: one!) == nil, "a person id of site 1 is not visible in site 2")
    }
}
