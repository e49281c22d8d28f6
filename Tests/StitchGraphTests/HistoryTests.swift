@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchWire
import Testing

@Suite struct HistoryTests {
    func times(_ page: HistoryPage?) -> [Int64] {
        page?.events.map(\.timeMs) ?? []
    }

    @Test func pagesStayOrderedAcrossAMerge() throws {
        let test = try TestGraph()
        try test.apply([1, 3, 5].map { Beacons.hit(time: $0, [(.cookie, "cookie-aaaa")]) })
        try test.apply([2, 4, 6].map { Beacons.hit(time: $0, [(.cookie, "cookie-bbbb")]) })
        let a = try #require(try test.person(.cookie, "cookie-aaaa"))
        let b = try #require(try test.person(.cookie, "cookie-bbbb"))

        let first = try test.graph.history(site: 1, personID: a, query: HistoryQuery(limit: 2))
        #expect(times(first) == [1, 3])
        let cursor = try #require(first?.next)

        // A later event links the two cookies: a is older and survives.
        let report = try test.apply([Beacons.hit(time: 7, [(.cookie, "cookie-bbbb"), (.cookie, "cookie-aaaa")])])
        #expect(report.merges == 1)
        #expect(try test.person(.cookie, "cookie-bbbb") == a)
        #expect(try test.graph.lookup(site: 1, personID: b)?.personID == a, "the old id resolves to the survivor")
        let merges = try test.graph.merges(after: 0, limit: 10)
        #expect(merges.map { [$0.winner, $0.loser] } == [[a, b]])

        // The next page resumes after time 3 and now includes b's events.
        let second = try test.graph.history(site: 1, personID: b, query: HistoryQuery(limit: 2, cursor: cursor))
        #expect(second?.personID == a)
        #expect(times(second) == [4, 5])
        let third = try test.graph.history(site: 1, personID: a, query: HistoryQuery(limit: 2, cursor: second?.next))
        #expect(times(third) == [6, 7])
        #expect(third?.next == nil)
        let whole = try test.graph.history(site: 1, personID: a, query: HistoryQuery())
        #expect(times(whole) == [1, 2, 3, 4, 5, 6, 7])
    }

    @Test func newestFirstPaging() throws {
        let test = try TestGraph()
        try test.apply((1...9).map { Beacons.hit(time: Int64($0), [(.cookie, $0 % 2 == 0 ? "cookie-even" : "cookie-odd1"), (.session, "session-\($0)-x")]) })
        try test.apply([Beacons.hit(time: 10, [(.cookie, "cookie-even"), (.cookie, "cookie-odd1")])])
        let person = try #require(try test.person(.cookie, "cookie-odd1"))
        var seen: [Int64] = []
        var cursor: HistoryCursor?
        repeat {
            let page = try #require(try test.graph.history(site: 1, personID: person, query: HistoryQuery(limit: 3, cursor: cursor, newestFirst: true)))
            seen += times(page)
            cursor = page.next
        } while cursor != nil
        #expect(seen == Array((1...10).reversed()))
    }

    @Test func filtersByTimeAndType() throws {
        let test = try TestGraph()
        var beacons = (1...6).map { Beacons.hit(time: Int64($0 * 10), [(.cookie, "cookie-filter")]) }
        beacons.append(Beacons.form(time: 35, cookie: "cookie-filter", phone: "+79161234567"))
        try test.apply(beacons)
        let person = try #require(try test.person(.cookie, "cookie-filter"))
        let ranged = try test.graph.history(site: 1, personID: person, query: HistoryQuery(fromMs: 20, toMs: 50))
        #expect(times(ranged) == [20, 30, 35, 40])
        let forms = try test.graph.history(site: 1, personID: person, query: HistoryQuery(types: [.form]))
        #expect(times(forms) == [35])
        #expect(forms?.events.first?.identifiers.map(\.value) == ["cookie-filter", "+79161234567"],
                "stored events keep their normalized identifiers, derived ones included")
        let person2 = try #require(try test.graph.lookup(site: 1, personID: person))
        #expect(person2.eventCount == 7)
        #expect(person2.eventCounts[.form] == 1)
        #expect(person2.firstSeenMs == 10 && person2.lastSeenMs == 60)
    }

    @Test func lateEventsSortByEventTime() throws {
        let test = try TestGraph()
        try test.apply([Beacons.hit(time: 500, [(.cookie, "cookie-late")])])
        try test.apply([Beacons.hit(time: 100, [(.cookie, "cookie-late")])])  // arrives later, happened earlier
        let person = try #require(try test.person(.cookie, "cookie-late"))
        #expect(times(try test.graph.history(site: 1, personID: person, query: HistoryQuery())) == [100, 500])
        let summary = try #require(try test.graph.lookup(site: 1, personID: person, includeIdentifiers: true))
        #expect(summary.identifiers.first?.firstSeenMs == 100)
    }

    @Test func graphGrowsItsMapFromATinySize() throws {
        let test = try TestGraph(mapBytes: 64 * 1024)
        for batch in 0..<20 {
            try test.apply((0..<200).map { i in
                Beacons.hit(time: Int64(batch * 200 + i), [(.cookie, "cookie-\(batch)-\(i)"), (.session, "session-\(batch)-\(i)")])
            })
        }
        #expect(try test.graph.totals().identifiers == 8000)
        #expect(test.graph.environment.mapBytes > 64 * 1024)
        try test.reopen()
        #expect(try test.person(.session, "session-19-199") != nil)
    }
}
