import StitchGraph
import StitchIdentity
import StitchTesting
import StitchWire
import Testing

/// History pages against a brute-force model: every event of the person,
/// filtered and sorted by (time, seq), cut into pages.
@Suite struct HistoryModelTests {
    @Test func pagesMatchASortedList() throws {
        var random = SeededGenerator.forTest("HistoryModelTests.pagesMatchASortedList")
        let test = try TestGraph()
        // One person: a cookie seen in 30 sessions, events at colliding times.
        var beacons: [Stitch_V1_Beacon] = []
        for index in 0..<600 {
            let time = Int64.random(in: 0..<200, using: &random)
            var beacon = Beacons.hit(time: time, [(.cookie, "cookie-history-1"), (.session, "session-\(index % 30)-abc")])
            if index % 7 == 0 { beacon.form = .with { $0.formID = "f" } }
            beacons.append(beacon)
        }
        let report = try test.apply(beacons)
        let all = zip(report.eventSeqs, beacons).map { (seq: $0, time: $1.timeMs, isForm: $1.form.formID == "f") }
        let person = try #require(try test.person(.cookie, "cookie-history-1"))

        for _ in 0..<40 {
            let newestFirst = Bool.random(using: &random)
            let limit = Int.random(in: 1...50, using: &random)
            let from = Int64.random(in: -10...100, using: &random), to = Int64.random(in: 100...210, using: &random)
            let formsOnly = Int.random(in: 0..<4, using: &random) == 0
            var expected = all.filter { $0.time >= from && $0.time < to && (!formsOnly || $0.isForm) }
                .sorted { ($0.time, $0.seq) < ($1.time, $1.seq) }
                .map(\.seq)
            if newestFirst { expected.reverse() }
            var seen: [UInt64] = []
            var cursor: HistoryCursor?
            var pages = 0
            repeat {
                let query = HistoryQuery(fromMs: from, toMs: to, types: formsOnly ? [.form] : [], limit: limit,
                                         cursor: cursor, newestFirst: newestFirst)
                let page = try #require(try test.graph.history(site: 1, personID: person, query: query))
                #expect(page.events.count <= limit)
                seen += page.events.map(\.seq)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 1000
            #expect(seen == expected, "limit \(limit) newestFirst \(newestFirst) [\(from), \(to)) forms \(formsOnly)")
        }
    }
}
