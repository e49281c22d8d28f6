@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchTesting
import StitchWire
import Testing

@Suite struct VerifierTests {
    /// A store with merges, conflicts and unlinked events (random cookies
    /// and logins: the shared-device rule, which such cookies trip, is off).
    func populated() throws -> TestGraph {
        var random = SeededGenerator.forTest("VerifierTests.populated")
        let test = try TestGraph(configuration: GraphConfiguration(defaultRules: SiteRules(device: .off)))
        for batch in 0..<10 {
            let beacons = (0..<100).map { i -> Stitch_V1_Beacon in
                let time = Int64(batch * 100 + i)
                return Beacons.hit(time: time, [
                    (.cookie, "cookie-\(Int.random(in: 0..<60, using: &random))-x"),
                    (.session, "session-\(batch)-\(i)"),
                    (.userID, "user-\(Int.random(in: 0..<30, using: &random))"),
                ])
            }
            try test.apply(beacons)
        }
        try test.apply([Beacons.hit(time: 5, [(.cookie, "undefined")])])  // unlinked
        return test
    }

    @Test func soundStorePassesEveryCheck() throws {
        let test = try populated()
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.isSound, "\(report.violations)")
        #expect(report.checks.count == 15)
        #expect(report.checks.first { $0.name == "nodes read" }?.count == Int(try test.graph.totals().identifiers))
        #expect(try test.graph.totals().conflicts > 0, "the fixture exercises refusals")
        #expect(try test.graph.totals().unlinkedEvents == 1)
    }

    /// Rewrites one stored node record.
    func corrupt(_ test: TestGraph, node id: UInt64, _ change: (inout NodeRecord) -> Void) throws {
        let graph = test.graph
        try graph.environment.write { txn in
            var record = NodeRecord(copying: try txn.get(graph.tables.node, StoreKeys.nodeKey(id))!)
            change(&record)
            try txn.put(graph.tables.node, StoreKeys.nodeKey(id), record.bytes)
        }
    }

    func merged(_ test: TestGraph) throws -> ChangeRecord {
        try #require(try test.graph.merges(after: 0, limit: 1).first)
    }

    @Test func detectsACycle() throws {
        let test = try populated()
        let merge = try merged(test)
        try corrupt(test, node: merge.winner) { $0.parent = merge.loser }
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.violations.contains { $0.contains("cycle") })
    }

    @Test func detectsABrokenRing() throws {
        let test = try populated()
        let merge = try merged(test)
        try corrupt(test, node: merge.winner) { $0.next = merge.winner }
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.violations.contains { $0.contains("ring") })
    }

    @Test func detectsAWrongCount() throws {
        let test = try populated()
        let merge = try merged(test)
        try corrupt(test, node: merge.winner) { $0.setKindCount(.cookie, 99) }
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.violations.contains { $0.contains("cookie count 99") })
    }

    @Test func detectsAMissingIdentEntry() throws {
        let test = try populated()
        let graph = test.graph
        try graph.environment.write { txn in
            var key: [UInt8] = []
            StoreKeys.identKey(site: 1, kind: .session, value: "session-0-0".utf8, into: &key)
            let deleted = try txn.delete(graph.tables.ident, key)
            #expect(deleted)
        }
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.violations.contains { $0.contains("has no ident entry") })
    }

    @Test func aLeaseMissingFromItsNumbersListIsReported() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        try test.apply([
            Calls.shown(session: "session-1", cookie: "cookie-1", at: Calls.t0),
            Calls.call(from: "+79160000001", at: Calls.t0 + 3_600_000),  // waits: no lease covers it
        ])
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
        let session = try #require(try test.graph.environment.read { txn in
            try test.graph.identNode(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .session, value: "session-1"), txn)
        })
        try test.graph.environment.write { txn in
            let prefix = StoreKeys.numberPrefix(site: 1, number: Calls.number)
            let deleted = try txn.delete(test.graph.tables.leaseNumber, StoreKeys.numberKey(prefix, timeMs: Calls.t0, session))
            #expect(deleted)
        }
        let report = try GraphVerifier(graph: test.graph).verify()
        #expect(report.violations.contains { $0.contains("listed nowhere") }, "\(report.violations)")
    }
}
