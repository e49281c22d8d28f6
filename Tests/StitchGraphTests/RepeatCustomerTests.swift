@testable import StitchGraph
import StitchIdentity
import Testing

/// The shared-identifier rule seen from the other side (issue 30): a repeat
/// customer whose browser resets its cookie every week (Safari's 7-day cap on
/// script cookies) is joined again by the phone or e-mail of each order — and
/// that phone must never look shared.
@Suite("Repeat customers on weekly cookies")
struct RepeatCustomerTests {
    static let t0: Int64 = 1_767_225_600_000
    static let dayMs: Int64 = 86_400_000

    /// `visits` visits four days apart, each on a new cookie with a page view
    /// and a form carrying `phone` and/or `email`; every third visit also on
    /// `stableCookie` (a second device that keeps its cookie), if given.
    static func customer(
        _ test: TestGraph, visits: Int, tag: String, phone: String = "", email: String = "", stableCookie: String? = nil
    ) throws -> ApplyReport {
        var total = ApplyReport()
        for visit in 1...visits {
            let time = Self.t0 + Int64(visit) * 4 * Self.dayMs
            let cookie = (stableCookie != nil && visit % 3 == 0) ? stableCookie! : "weekly-\(tag)-\(visit)"
            let report = try test.apply([
                Beacons.hit(time: time, [(.cookie, cookie), (.session, "session-\(cookie)-\(visit)")]),
                Beacons.form(time: time + 60_000, cookie: cookie, phone: phone, email: email),
            ])
            total.quarantined += report.quarantined
        }
        return total
    }

    static func personsOfCookies(_ test: TestGraph, visits: Int, tag: String) throws -> Set<UInt64?> {
        Set(try (1...visits).map { try test.person(.cookie, "weekly-\(tag)-\($0)") })
    }

    @Test("a customer with 8, 15 and 30 weekly cookies and the same phone, or e-mail, on each is one person; it is never quarantined",
          arguments: [IdentifierKind.phone, .email], [8, 15, 30])
    func contactOnEveryCookie(kind: IdentifierKind, visits: Int) throws {
        let test = try TestGraph()
        let value = kind == .phone ? "+79161234567" : "repeat@mail.ru"
        let report = try Self.customer(
            test, visits: visits, tag: kind.name, phone: kind == .phone ? value : "", email: kind == .email ? value : "")
        #expect(report.quarantined == 0)
        let persons = try Self.personsOfCookies(test, visits: visits, tag: kind.name)
        #expect(persons.count == 1 && persons.first! != nil)
        #expect(try test.person(kind, value) == persons.first!)
        #expect(try test.graph.shared(site: 1, limit: 10).isEmpty)
        try RepairTests.sound(test)
    }

    @Test("the same with a second device that keeps its cookie")
    func withStableDevice() throws {
        let test = try TestGraph()
        let phone = "+79167654321"
        #expect(try Self.customer(test, visits: 30, tag: "stable", phone: phone, stableCookie: "stable-laptop").quarantined == 0)
        let person = try test.person(.phone, phone)
        #expect(try test.person(.cookie, "stable-laptop") == person)
        #expect(try (1...30).filter { $0 % 3 != 0 }.allSatisfy { try test.person(.cookie, "weekly-stable-\($0)") == person })
        #expect(try test.graph.shared(site: 1, limit: 10).isEmpty)
    }

    @Test("a customer who alternates phone and e-mail, then types both, stays one without a link")
    func phoneThenEmail() throws {
        let test = try TestGraph()
        for visit in 1...12 {
            let time = Self.t0 + Int64(visit) * 4 * Self.dayMs
            let cookie = "alternating-\(visit)"
            try test.apply([
                Beacons.hit(time: time, [(.cookie, cookie), (.session, "session-\(cookie)")]),
                Beacons.form(
                    time: time + 60_000, cookie: cookie, phone: visit % 3 == 1 ? "" : "+79160000001",
                    email: visit % 3 == 2 ? "" : "alt@mail.ru"),
            ])
        }
        let person = try test.person(.phone, "+79160000001")
        #expect(try test.person(.email, "alt@mail.ru") == person)
        #expect(try (1...12).allSatisfy { try test.person(.cookie, "alternating-\($0)") == person })
        #expect(try test.graph.shared(site: 1, limit: 10).isEmpty)
    }

    @Test("a salesperson's e-mail typed beside each customer's own phone is quarantined at the third link")
    func salespersonEmail() throws {
        let test = try TestGraph()
        var trippedAt = 0
        for customer in 1...8 {
            let time = Self.t0 + Int64(customer) * 3_600_000
            let cookie = "customer-\(customer)"
            let report = try test.apply([
                Beacons.hit(time: time, [(.cookie, cookie), (.session, "session-\(cookie)")]),
                Beacons.form(time: time + 60_000, cookie: cookie, phone: "+7916100000\(customer)", email: "manager@shop.ru"),
            ])
            if report.quarantined > 0 && trippedAt == 0 { trippedAt = customer }
        }
        #expect(trippedAt == 4)
        let persons = try Set((1...8).map { try test.person(.phone, "+7916100000\($0)") })
        #expect(persons.count == 8, "every customer is a person of their own")
        let shared = try test.graph.shared(site: 1, limit: 10)
        #expect(shared.map(\.identifier.value) == ["manager@shop.ru"])
        try RepairTests.sound(test)
    }
}
