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

    @Test("a schema-7 store upgrades to 8 in place: totals kept, remembered ids rekeyed by arrival, resends still repeats")
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
        #expect(migration.fromSchema == 7 && migration.toSchema == 8)
        #expect(migration.steps == ["7 → 8: 57 remembered event ids rekeyed by arrival, 0 naming no stored event dropped"])
        let totals = try graph.totals()
        #expect(totals.events == 2510 && totals.persons == 87 && totals.identifiers == 734 && totals.merges == 647)
        let verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")

        // Every remembered id is still recognised: resent at the store's
        // arrival clock, with another event time, each is a repeat.
        let (remembered, clock) = try graph.environment.read { txn in
            var ids: [DedupID] = []
            try txn.scan(graph.tables.dedup) { _, value in
                ids.append(StoreKeys.decodeDedupValue(value))
                return true
            }
            return (ids, try graph.counters(txn).arrivalClockMs)
        }
        #expect(remembered.count == 57)
        let resends = remembered.map { id in
            PreparedEvent(
                site: id.site, eventID: id.eventID, timeMs: 1_000, receivedMs: clock, type: .hit,
                identifiers: [NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-resend")], body: [])
        }
        let report = try graph.apply(resends, nowMs: clock)
        #expect(report.repeats.count == 57 && report.events == 0)
        graph.close()

        // A second open finds the current schema: nothing to upgrade.
        let again = try IdentityGraph(path: path, storeOptions: options)
        #expect(again.migration == nil)
        #expect(try again.totals().events == 2510)
        again.close()
    }
}
