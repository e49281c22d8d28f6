import StitchIdentity
import Testing

@testable import StitchGraph

/// Retention at the graph: finding inactive persons a slice at a time, and
/// erasing them as `forget` does, without the suppression list.
@Suite("Retention")
struct RetentionTests {
    static let t0: Int64 = 1_767_225_600_000
    static let day: Int64 = 86_400_000

    /// Site 1: an old visitor (t0), an old visitor who came back on day 40
    /// with another cookie linked by phone, and a recent one; site 2: an old one.
    static func store() throws -> TestGraph {
        let test = try TestGraph()
        try test.apply([
            Beacons.hit(time: t0, [(.cookie, "cookie-old-1"), (.session, "session-old-1")]),
            Beacons.form(time: t0 + 1, cookie: "cookie-old-1", phone: "+79161111111"),
            Beacons.hit(time: t0 + 2, [(.cookie, "cookie-back-1"), (.session, "session-back-1")]),
            Beacons.form(time: t0 + 3, cookie: "cookie-back-1", phone: "+79162222222"),
            Beacons.hit(site: 2, time: t0 + 4, [(.cookie, "cookie-old-2")]),
        ])
        try test.apply([
            Beacons.form(time: t0 + 40 * day, cookie: "cookie-back-1-new", phone: "+79162222222"),
            Beacons.hit(time: t0 + 41 * day, [(.cookie, "cookie-recent-1"), (.session, "session-recent-1")]),
        ])
        return test
    }

    /// A 30-day period for site 1 only, judged at day 45.
    static func cutoff(_ site: UInt32) -> Int64? { site == 1 ? t0 + 15 * day : nil }

    @Test("a scan lists only persons all of whose identifiers are older than their site's cutoff")
    func scanFindsInactive() throws {
        let test = try Self.store()
        let scan = try test.graph.inactivePersons(from: 0, nodesMax: 10_000, personsMax: 100, cutoffMs: Self.cutoff)
        let old = try #require(try test.person(.cookie, "cookie-old-1"))
        #expect(scan.persons.map(\.personID) == [old], "the returning visitor's new cookie is recent; site 2 keeps everything")
        #expect(scan.next == nil)
    }

    @Test("a scan in slices goes on where it stopped and finds the same persons")
    func scanInSlices() throws {
        let test = try Self.store()
        var found: [UInt64] = []
        var position: UInt64 = 0
        var slices = 0
        repeat {
            let scan = try test.graph.inactivePersons(from: position, nodesMax: 2, personsMax: 100, cutoffMs: Self.cutoff)
            #expect(scan.nodesRead <= 2 + 4, "a slice reads nodesMax records, plus the rings of old roots (4 identifiers at most here)")
            found += scan.persons.map(\.personID)
            position = scan.next ?? 0
            slices += 1
        } while position != 0 && slices < 100
        #expect(slices > 3)
        #expect(found == [try #require(try test.person(.cookie, "cookie-old-1"))])
    }

    @Test("expire erases the person without suppressing its identifiers; the feed says retention; repeats are no-ops")
    func expireErases() throws {
        let test = try Self.store()
        let old = try #require(try test.person(.cookie, "cookie-old-1"))
        let totals = try test.graph.totals()
        let erasure = try #require(try test.graph.expire(site: 1, personID: old, inactiveBeforeMs: Self.t0 + 15 * Self.day, nowMs: Self.t0 + 45 * Self.day))
        #expect(erasure.personID == old && erasure.identifiers == 3 && erasure.events == 2)
        #expect(try test.person(.phone, "+79161111111") == nil && test.person(.cookie, "cookie-old-1") == nil)
        #expect(try test.graph.totals().persons == totals.persons - 1 && test.graph.totals().events == totals.events - 2)
        let change = try #require(try test.graph.merges(after: 0, limit: 1000).last)
        #expect(change.kind == .erase && change.reason == .retention && change.winner == old)
        try RepairTests.sound(test)

        #expect(try test.graph.expire(site: 1, personID: old, inactiveBeforeMs: Self.t0 + 15 * Self.day, nowMs: Self.t0 + 45 * Self.day) == nil, "already gone")
        // Not suppressed: the visitor coming back is a new person.
        let report = try test.apply([Beacons.form(time: Self.t0 + 46 * Self.day, cookie: "cookie-old-1", phone: "+79161111111")])
        #expect(report.suppressed.isEmpty && report.events == 1)
        let again = try #require(try test.person(.phone, "+79161111111"))
        #expect(again != old)
        try RepairTests.sound(test)
    }

    @Test("expire keeps a person that became active since, or an id of another site")
    func expireKeepsActive() throws {
        let test = try Self.store()
        let back = try #require(try test.person(.phone, "+79162222222"))
        #expect(try test.graph.expire(site: 1, personID: back, inactiveBeforeMs: Self.t0 + 15 * Self.day, nowMs: Self.t0 + 45 * Self.day) == nil)
        let old = try #require(try test.person(.cookie, "cookie-old-1"))
        #expect(try test.graph.expire(site: 2, personID: old, inactiveBeforeMs: .max, nowMs: Self.t0 + 45 * Self.day) == nil, "the id is site 1's")
        try test.apply([Beacons.hit(time: Self.t0 + 44 * Self.day, [(.cookie, "cookie-old-1")])])
        #expect(try test.graph.expire(site: 1, personID: old, inactiveBeforeMs: Self.t0 + 15 * Self.day, nowMs: Self.t0 + 45 * Self.day) == nil, "active again")
        #expect(try test.person(.phone, "+79161111111") == old)
    }
}
