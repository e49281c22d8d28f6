import Foundation
@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchTesting
import Testing

/// Stores upgrade in place: a committed store of the previous schema opens,
/// upgrades, verifies sound and keeps every fact it held.
@Suite("Schema migration")
struct MigrationTests {
    /// A copy of the committed `schema-N` store in a temporary directory.
    static func copyOfFixture(schema: Int) throws -> TemporaryDirectory {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/schema-\(schema)")
        let directory = try TemporaryDirectory("stitch-migrate")
        let data = directory.appending("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.path) {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(name).path, toPath: data + "/" + name)
        }
        return directory
    }

    /// Every id the `dedup` table remembers, and the arrival clock.
    static func remembered(_ graph: IdentityGraph) throws -> (ids: [DedupID], clock: Int64) {
        try graph.environment.read { txn in
            var ids: [DedupID] = []
            try txn.scan(graph.tables.dedup) { key, value in
                StoreKeys.forEachDedupRecord(value, firstSeq: StoreKeys.decodeDedupKey(key).seq) { id, _ in ids.append(id) }
                return true
            }
            return (ids, try graph.counters(txn).arrivalClockMs)
        }
    }

    /// Each remembered id resent at the arrival clock, with another event time.
    static func resends(_ ids: [DedupID], clock: Int64) -> [PreparedEvent] {
        ids.map { id in
            PreparedEvent(
                site: id.site, eventID: id.eventID, timeMs: 1_000, receivedMs: clock, type: .hit,
                identifiers: [NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-resend")], body: [])
        }
    }

    @Test("a schema-7 store upgrades to 9 in place: totals kept, remembered ids rekeyed by arrival, resends still repeats")
    func schema7Upgrades() throws {
        let directory = try Self.copyOfFixture(schema: 7)
        defer { directory.remove() }
        let path = directory.appending("data")
        let options = StoreOptions(mapBytes: 64 << 20, durability: .nosync)

        #expect(throws: GraphError.schemaNeedsMigration(found: 7, expected: IdentityGraph.schemaVersion)) {
            _ = try IdentityGraph(path: path, storeOptions: StoreOptions(mapBytes: 64 << 20, readOnly: true))
        }
        let graph = try IdentityGraph(path: path, storeOptions: options)
        let migration = try #require(graph.migration)
        #expect(migration.fromSchema == 7 && migration.toSchema == IdentityGraph.schemaVersion)
        #expect(migration.steps.first == "7 → 8: 57 remembered event ids rekeyed by arrival, 0 naming no stored event dropped")
        let totals = try graph.totals()
        #expect(totals.events == 2510 && totals.persons == 87 && totals.identifiers == 734 && totals.merges == 647)
        let verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")

        // Every remembered id is still recognised: resent at the store's
        // arrival clock, with another event time, each is a repeat.
        let (remembered, clock) = try Self.remembered(graph)
        #expect(remembered.count == 57)
        let resends = Self.resends(remembered, clock: clock)
        let report = try graph.apply(resends, nowMs: clock)
        #expect(report.repeats.count == 57 && report.events == 0)
        graph.close()

        // A second open finds the current schema: nothing to upgrade.
        let again = try IdentityGraph(path: path, storeOptions: options)
        #expect(again.migration == nil)
        #expect(try again.totals().events == 2510)
        again.close()
    }

    @Test("a schema-8 store upgrades to 9 in place: its one-id entries still read, resends are repeats, new ids are written many to an entry")
    func schema8Upgrades() throws {
        let directory = try Self.copyOfFixture(schema: 8)
        defer { directory.remove() }
        let path = directory.appending("data")
        let options = StoreOptions(mapBytes: 64 << 20, durability: .nosync)

        #expect(throws: GraphError.schemaNeedsMigration(found: 8, expected: IdentityGraph.schemaVersion)) {
            _ = try IdentityGraph(path: path, storeOptions: StoreOptions(mapBytes: 64 << 20, readOnly: true))
        }
        let graph = try IdentityGraph(path: path, storeOptions: options)
        let migration = try #require(graph.migration)
        #expect(migration.fromSchema == 8 && migration.toSchema == 9 && migration.steps.count == 1)
        let totals = try graph.totals()
        #expect(totals.events == 2908 && totals.identifiers == 1177 && totals.merges == 1032)
        let (remembered, clock) = try Self.remembered(graph)
        #expect(remembered.count == 2908, "every event of the fixture carried an id")
        let entriesBefore = try graph.environment.read { txn in try txn.count(graph.tables.dedup) }
        #expect(entriesBefore == 2908, "schema 8: one entry per id")
        var verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")

        let report = try graph.apply(Self.resends(remembered, clock: clock), nowMs: clock)
        #expect(report.repeats.count == 2908 && report.events == 0)
        // 300 new ids in one transaction: three entries (120 + 120 + 60).
        let fresh = (1...300).map { n in
            PreparedEvent(
                site: 1, eventID: 9_000_000 + UInt64(n), timeMs: 1_000, receivedMs: clock + 1, type: .hit,
                identifiers: [NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-new-\(n % 5)")], body: [])
        }
        #expect(try graph.apply(fresh, nowMs: clock + 1).events == 300)
        #expect(try graph.environment.read { txn in try txn.count(graph.tables.dedup) } == entriesBefore + 3)
        #expect(try graph.apply(fresh, nowMs: clock + 2).repeats.count == 300)
        verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")
        graph.close()

        let again = try IdentityGraph(path: path, storeOptions: options)
        #expect(again.migration == nil)
        #expect(try again.apply(fresh, nowMs: clock + 3).repeats.count == 300, "the index is rebuilt from both kinds of entry")
        again.close()
    }
}
