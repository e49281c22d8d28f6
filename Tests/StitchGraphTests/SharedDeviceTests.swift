@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchWire
import Testing

/// The shared-device rule (issue 27): a browser that many people use — a
/// kiosk, an office PC — must not glue them; one person's own devices, a
/// household's computer and a returning visitor must stay whole.
@Suite("Shared devices")
struct SharedDeviceTests {
    static let t0: Int64 = 1_767_225_600_000

    /// A visit on a browser known by `cookie`, `_ga` and `_ym_uid`, signed in
    /// as `userID` if given, then a form with `phone` if given.
    static func visit(
        _ test: TestGraph, at time: Int64, cookie: String, ga: String, ym: String, session: String,
        userID: String? = nil, phone: String = "", email: String = ""
    ) throws -> ApplyReport {
        var identifiers: [(IdentifierKind, String)] = [(.cookie, cookie), (.session, session), (.gaClientID, ga), (.ymClientID, ym)]
        if let userID { identifiers.append((.userID, userID)) }
        var beacons = [Beacons.hit(time: time, identifiers)]
        if !phone.isEmpty || !email.isEmpty {
            var form = Beacons.form(time: time + 30_000, cookie: cookie, phone: phone, email: email)
            form.identifiers.append(.with { $0.kind = .session; $0.value = session })
            beacons.append(form)
        }
        return try test.apply(beacons)
    }

    static func kiosk(_ test: TestGraph, at time: Int64, session: String, phone: String = "", userID: String? = nil) throws -> ApplyReport {
        try visit(test, at: time, cookie: "kiosk-cookie", ga: "1111.2222", ym: "17000000001", session: session, userID: userID, phone: phone)
    }

    @Test("a kiosk used by 15 people who each leave their own phone is quarantined, with its GA and Yandex ids; each visitor is their own person")
    func kioskSplits() throws {
        let test = try TestGraph()
        var trippedAt = 0
        for visitor in 1...15 {
            let report = try Self.kiosk(test, at: Self.t0 + Int64(visitor) * 3_600_000, session: "kiosk-visit-\(visitor)", phone: "+7916200\(String(format: "%04d", visitor))")
            if report.quarantined > 0 && trippedAt == 0 { trippedAt = visitor }
        }
        #expect(trippedAt == 5, "three links allowed (visitors 2, 3 and 4), the fifth person trips it")
        let shared = try test.graph.shared(site: 1, limit: 10)
        #expect(Set(shared.map(\.identifier.kind)) == [.cookie, .gaClientID, .ymClientID])
        #expect(shared.allSatisfy { $0.record.source == .automatic && $0.record.reason.hasPrefix("shared device") })
        let persons = try (1...15).map { try test.person(.phone, "+7916200\(String(format: "%04d", $0))") }
        #expect(Set(persons).count == 15, "no two visitors share a person")
        for visitor in 1...15 {
            #expect(try test.person(.session, "kiosk-visit-\(visitor)") == persons[visitor - 1], "visitor \(visitor)'s visit is theirs")
        }
        let explained = try test.graph.explain(site: 1, a: RepairTests.cookie("kiosk-cookie"), b: RepairTests.phone("+79162000001"))
        #expect(explained.verdict == .refused && explained.refusal?.reason.contains("shared device") == true)
        try RepairTests.sound(test)
    }

    @Test("an office PC on which 6 colleagues sign in with their own user_id is split into the 6")
    func officePCSplits() throws {
        let test = try TestGraph()
        for colleague in 1...6 {
            _ = try Self.kiosk(test, at: Self.t0 + Int64(colleague) * 3_600_000, session: "office-visit-\(colleague)", userID: "login-\(colleague)")
        }
        #expect(try test.graph.shared(site: 1, limit: 10).count == 3)
        let persons = try (1...6).map { try test.person(.userID, "login-\($0)") }
        #expect(Set(persons).count == 6)
        for colleague in 1...6 {
            #expect(try test.person(.session, "office-visit-\(colleague)") == persons[colleague - 1])
        }
        try RepairTests.sound(test)
    }

    @Test("one person on three devices with their phone and e-mail, a household's two phones on one computer, a returning visitor: no device is quarantined")
    func realPeopleStayWhole() throws {
        let test = try TestGraph()
        var time = Self.t0
        // One person, three devices, phone and e-mail on each, several visits.
        for round in 1...3 {
            for device in 1...3 {
                time += 3_600_000
                _ = try Self.visit(
                    test, at: time, cookie: "anna-device-\(device)", ga: "10\(device).1", ym: "17000000\(device)00", session: "anna-\(device)-\(round)",
                    phone: "+79161111111", email: "anna@mail.ru")
            }
        }
        // A household: the family computer, her phone, his phone, hers again, an e-mail.
        for (round, phone) in ["+79162222221", "+79162222222", "+79162222221", ""].enumerated() {
            time += 86_400_000
            _ = try Self.visit(test, at: time, cookie: "family-pc", ga: "200.9", ym: "17000000999", session: "family-\(round)", phone: phone, email: round == 3 ? "family@mail.ru" : "")
        }
        // A returning visitor: one cookie outliving ten sessions and forms with the same phone.
        for round in 1...10 {
            time += 2 * 86_400_000
            _ = try Self.visit(test, at: time, cookie: "returning", ga: "300.9", ym: "17000000888", session: "returning-\(round)", phone: "+79163333333")
        }
        let sharedNow = try test.graph.shared(site: 1, limit: 10)
        #expect(sharedNow.isEmpty, "\(sharedNow.map { "\($0.identifier.kind) \($0.identifier.value) \($0.record.reason)" })")
        let anna = try test.person(.phone, "+79161111111")
        #expect(try (1...3).allSatisfy { try test.person(.cookie, "anna-device-\($0)") == anna })
        #expect(try test.person(.phone, "+79162222221") == test.person(.phone, "+79162222222"), "a household's two phones on one computer stay one person")
        #expect(try (1...10).allSatisfy { try test.person(.session, "returning-\($0)") == test.person(.phone, "+79163333333") })
        try RepairTests.sound(test)
    }

    @Test("a device that first belonged to one person and is later shared: the first owner keeps their history from before the sharing")
    func firstOwnerKeepsHistory() throws {
        let test = try TestGraph()
        let day: Int64 = 86_400_000
        // Someone who used the browser before its owner and left nothing of their own.
        _ = try Self.kiosk(test, at: Self.t0, session: "stranger-visit")
        // The owner: five visits on days 1…5, their phone on the first, their e-mail on the third.
        for visit in 1...5 {
            _ = try Self.visit(
                test, at: Self.t0 + Int64(visit) * day, cookie: "kiosk-cookie", ga: "1111.2222", ym: "17000000001",
                session: "owner-visit-\(visit)", phone: visit == 1 ? "+79164000000" : "", email: visit == 3 ? "owner@mail.ru" : "")
        }
        // From day 20 the browser stands in a shop: visitors leave their own phones.
        var trippedAt = 0
        for visitor in 1...6 {
            let report = try Self.kiosk(test, at: Self.t0 + 20 * day + Int64(visitor) * 3_600_000, session: "shop-visit-\(visitor)", phone: "+7916500000\(visitor)")
            if report.quarantined > 0 && trippedAt == 0 { trippedAt = visitor }
        }
        #expect(trippedAt == 4, "the owner is the first person: visitors 1, 2 and 3 link, the fourth trips it")
        let owner = try #require(try test.person(.phone, "+79164000000"))
        for visit in 1...5 {
            #expect(try test.person(.session, "owner-visit-\(visit)") == owner, "the owner's visit \(visit), before the sharing, is still theirs")
        }
        #expect(try test.person(.session, "stranger-visit") != owner, "the era begins with the owner's first personal identifier")
        let visitors = try (1...6).map { try test.person(.phone, "+7916500000\($0)") }
        #expect(Set(visitors).count == 6 && !visitors.contains(owner), "each visitor is their own person, none the owner")
        for visitor in 1...6 {
            #expect(try test.person(.session, "shop-visit-\(visitor)") == visitors[visitor - 1])
        }
        let shared = try test.graph.shared(site: 1, limit: 10)
        // The first link was visitor 1's form (30 s into the visit); the sharing began a visit's length before.
        #expect(shared.count == 3 && shared.allSatisfy { $0.record.ownerBeforeMs == Self.t0 + 20 * day + 3_600_000 + 30_000 - GraphLimits.sharedDeviceVisitMs })
        try RepairTests.sound(test)
        // Another repair of the owner's person (their e-mail quarantined by an operator) keeps it.
        _ = try test.graph.quarantine(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .email, value: "owner@mail.ru"), reason: "test", nowMs: IdentityGraph.wallClockMs())
        #expect(try (1...5).allSatisfy { try test.person(.session, "owner-visit-\($0)") == owner }, "the owner's era survives a later repair")
        try RepairTests.sound(test)
    }

    @Test("a visitor's own browser, glued to a kiosk through their phone until the kiosk trips, starts its count afresh")
    func splitOffDeviceCountsAfresh() throws {
        let test = try TestGraph()
        let hour: Int64 = 3_600_000
        func home(_ at: Int64, _ phone: String) throws {
            _ = try Self.visit(test, at: Self.t0 + at * hour, cookie: "home-of-anna", ga: "500.1", ym: "17000000500", session: "home-\(at)", phone: phone)
        }
        try home(1, "+79166000000")  // her own phone, at home
        _ = try Self.kiosk(test, at: Self.t0 + 2 * hour, session: "kiosk-1", phone: "+79166000001")
        _ = try Self.kiosk(test, at: Self.t0 + 3 * hour, session: "kiosk-2", phone: "+79166000002")
        _ = try Self.kiosk(test, at: Self.t0 + 4 * hour, session: "kiosk-anna", phone: "+79166000000")  // glues her home browser to the kiosk
        // At home, two more phones of hers: each a link for her browser while glued.
        try home(5, "+79166000010")
        try home(6, "+79166000011")
        for visitor in 3...4 { _ = try Self.kiosk(test, at: Self.t0 + Int64(6 + visitor) * hour, session: "kiosk-\(visitor)", phone: "+7916600000\(visitor)") }
        #expect(try test.graph.shared(site: 1, limit: 10).count == 3, "the kiosk tripped")
        // Two more of her own phones at home: counted from zero, not on top of the glued era's two.
        try home(20, "+79166000012")
        try home(21, "+79166000013")
        #expect(try test.graph.shared(site: 1, limit: 10).count == 3, "her home browser is not a shared device")
        let anna = try test.person(.phone, "+79166000000")
        #expect(try test.person(.cookie, "home-of-anna") == anna && test.person(.phone, "+79166000013") == anna)
        try RepairTests.sound(test)
    }

    @Test("the verifier refuses a first owner's era on a quarantine that is not a shared device's")
    func verifierChecksOwnerEra() throws {
        let test = try TestGraph()
        _ = try Self.visit(test, at: Self.t0, cookie: "verifier-cookie", ga: "700.1", ym: "17000000700", session: "verifier-visit", phone: "+79167000000")
        let result = try test.graph.quarantine(site: 1, identifier: RepairTests.phone("+79167000000"), reason: "manual", nowMs: IdentityGraph.wallClockMs())
        try RepairTests.sound(test)
        try test.graph.environment.write { txn in
            let record = QuarantineRecord(source: .manual, sinceMs: Self.t0, reason: "manual", ownerBeforeMs: Self.t0)
            try txn.put(test.graph.tables.quarantine, StoreKeys.nodeKey(result.identifierNode), record.encoded())
        }
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.violations.contains { $0.contains("first owner's era") })
    }

    @Test("a browser whose cookie and GA id trip in one batch is quarantined once, each id once")
    func cookieAndGATripTogether() throws {
        let test = try TestGraph()
        // Logins on every visit: each visit links the cookie, the GA and the Yandex id at once.
        var batch: [Stitch_V1_Beacon] = []
        for colleague in 1...6 {
            batch.append(Beacons.hit(time: Self.t0 + Int64(colleague) * 3_600_000, [
                (.cookie, "shared-pc-cookie"), (.session, "shared-pc-\(colleague)"), (.gaClientID, "800.1"),
                (.ymClientID, "17000000800"), (.userID, "colleague-\(colleague)"),
            ]))
        }
        let report = try test.apply(batch)
        #expect(report.quarantined == 3, "the cookie, the GA and the Yandex id, each once")
        #expect(try test.graph.shared(site: 1, limit: 10).count == 3)
        #expect(try Set((1...6).map { try test.person(.userID, "colleague-\($0)") }).count == 6)
        try RepairTests.sound(test)
    }
}
