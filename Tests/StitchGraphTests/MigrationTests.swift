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
    static func copyOfFixture(schema: Int, variant: String = "") throws -> TemporaryDirectory {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/schema-\(schema)\(variant)")
        let directory = try TemporaryDirectory("stitch-migrate")
        let data = directory.appending("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.path) {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(name).path, toPath: data + "/" + name)
        }
        return directory
    }

    /// A copy of the `schema-N` fixture, refused read-only (it needs an
    /// upgrade), then opened writable: upgraded in place.
    static func upgraded(schema: Int, variant: String = "") throws -> (directory: TemporaryDirectory, graph: IdentityGraph, path: String) {
        let directory = try copyOfFixture(schema: schema, variant: variant)
        let path = directory.appending("data")
        #expect(throws: GraphError.schemaNeedsMigration(found: UInt32(schema), expected: IdentityGraph.schemaVersion)) {
            _ = try IdentityGraph(path: path, storeOptions: StoreOptions(mapBytes: 64 << 20, readOnly: true))
        }
        return (directory, try IdentityGraph(path: path, storeOptions: Self.options), path)
    }

    static let options = StoreOptions(mapBytes: 64 << 20, durability: .nosync)

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

    @Test("a schema-7 store upgrades to the current schema in place: totals kept, remembered ids rekeyed by arrival, resends still repeats")
    func schema7Upgrades() throws {
        let (directory, graph, path) = try Self.upgraded(schema: 7)
        defer { directory.remove() }
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
        let again = try IdentityGraph(path: path, storeOptions: Self.options)
        #expect(again.migration == nil)
        #expect(try again.totals().events == 2510)
        again.close()
    }

    @Test("a schema-8 store upgrades to the current schema in place: its one-id entries still read, resends are repeats, new ids are written many to an entry")
    func schema8Upgrades() throws {
        let (directory, graph, path) = try Self.upgraded(schema: 8)
        defer { directory.remove() }
        let migration = try #require(graph.migration)
        #expect(migration.fromSchema == 8 && migration.toSchema == IdentityGraph.schemaVersion && migration.steps.count == 4)
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

        let again = try IdentityGraph(path: path, storeOptions: Self.options)
        #expect(again.migration == nil)
        #expect(try again.apply(fresh, nowMs: clock + 3).repeats.count == 300, "the index is rebuilt from both kinds of entry")
        again.close()
    }

    /// `Fixtures/schema-9`: a guard refused one link (`conflicts.ndjson`:
    /// user-a's cookie came back logged in as user-b), and the conflict's
    /// cause event is anchored in user-a's person though it carried user-b.
    @Test("a schema-9 store upgrades in place: its conflicts are listed by person, and forgetting user-b erases the refused event that carried it")
    func schema9Upgrades() throws {
        let (directory, graph, path) = try Self.upgraded(schema: 9)
        defer { directory.remove() }
        let migration = try #require(graph.migration)
        #expect(migration.fromSchema == 9 && migration.toSchema == IdentityGraph.schemaVersion)
        #expect(migration.steps.first == "9 → 10: 1 conflicts listed by person (2 entries), so erasing a person no longer scans them all")
        #expect(try graph.totals().events == 2511)
        var verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")

        let userA = NormalizedIdentifier(uncheckedKind: .userID, value: "user-a")
        let userB = NormalizedIdentifier(uncheckedKind: .userID, value: "user-b")
        #expect(try graph.lookup(site: 1, identifier: userA)?.eventCount == 2, "its own hit and the refused login")
        let erased = try #require(try graph.forget(site: 1, identifier: userB, nowMs: 1_800_000_000_000))
        #expect(erased.events == 2, "user-b's own hit, and the login anchored in user-a's person that carried user-b")
        #expect(try graph.lookup(site: 1, identifier: userA)?.eventCount == 1)
        verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")

        // `stitch verify` notices a conflict its index lost.
        try graph.environment.write { txn in
            var first: [UInt8]?
            try txn.scan(graph.tables.conflictByNode) { key, _ in
                first = Array(key)
                return false
            }
            #expect(try txn.delete(graph.tables.conflictByNode, try #require(first)))
        }
        #expect(try GraphVerifier(graph: graph).verify().violations.contains { $0.contains("is not listed under node") })
        graph.close()

        let again = try IdentityGraph(path: path, storeOptions: Self.options)
        #expect(again.migration == nil)
        again.close()
    }

    /// `Fixtures/schema-10`: every event in the `event` index. The upgrade
    /// adds the write-behind's journal; new events of a known visitor are
    /// then deferred there, counted and listed at once, and kept across a
    /// restart.
    @Test("a schema-10 store upgrades in place: its write-behind starts empty, and a known visitor's new events read at once and after a restart")
    func schema10Upgrades() throws {
        let (directory, graph, path) = try Self.upgraded(schema: 10)
        defer { directory.remove() }
        let migration = try #require(graph.migration)
        #expect(migration.fromSchema == 10 && migration.toSchema == IdentityGraph.schemaVersion)
        #expect(migration.steps == ["10 → 11: the event index's write-behind journal (table ejournal) added, empty: every entry is in the index"])
        #expect(try graph.totals().events == 2511)
        #expect(graph.writeBehind.latest().isEmpty)
        #expect(try GraphVerifier(graph: graph).verify().isSound)

        let userA = NormalizedIdentifier(uncheckedKind: .userID, value: "user-a")
        let before = try #require(try graph.lookup(site: 1, identifier: userA))
        let visit = (1...3).map { n in
            PreparedEvent(
                site: 1, eventID: 8_000_000 + UInt64(n), timeMs: 1_900_000_000_000 + Int64(n), receivedMs: 1_900_000_000_000,
                type: .hit, identifiers: [userA, NormalizedIdentifier(uncheckedKind: .session, value: "after-upgrade")], body: [])
        }
        #expect(try graph.apply(visit, nowMs: 1_900_000_000_000).events == 3)
        #expect(graph.writeBehind.latest().undrainedCount == 3, "deferred")
        func check(_ graph: IdentityGraph) throws {
            let after = try #require(try graph.lookup(site: 1, identifier: userA))
            #expect(after.eventCount == before.eventCount + 3 && after.lastSeenMs == 1_900_000_000_003)
            let page = try #require(try graph.history(site: 1, personID: after.personID, query: HistoryQuery(limit: 3, newestFirst: true)))
            #expect(page.events.map(\.timeMs) == [1_900_000_000_003, 1_900_000_000_002, 1_900_000_000_001])
            let verification = try GraphVerifier(graph: graph).verify()
            #expect(verification.isSound, "\(verification.violations)")
        }
        try check(graph)
        graph.close()

        let again = try IdentityGraph(path: path, storeOptions: Self.options)
        defer { again.close() }
        #expect(again.migration == nil)
        #expect(again.writeBehind.latest().undrainedCount == 3, "rebuilt from the journal")
        try check(again)
    }

    /// `Fixtures/schema-8-hubs`: `hubs.ndjson` imported by a schema-8 build
    /// (one shard): a repeat customer's phone on 8 weekly cookies and an
    /// office phone typed by 6 visitors who each left their own e-mail. The
    /// earlier rule quarantined both.
    @Test("upgrading re-judges the earlier rule's quarantines: a repeat customer's phone is released and links again, the office phone stays")
    func hubsRejudged() throws {
        let (directory, graph, path) = try Self.upgraded(schema: 8, variant: "-hubs")
        defer { directory.remove() }
        let migration = try #require(graph.migration)
        #expect(migration.steps.contains("8 → 9: 2 automatic quarantines to re-judge under the distinguishable-persons rule"))
        let outcome = try #require(graph.hubRejudging)
        #expect(outcome.judged == 2 && outcome.released.count == 1)
        let shared = try graph.shared(site: 1, limit: 10)
        #expect(shared.map(\.identifier.value) == ["+74951234567"], "the office phone stays quarantined")
        let customer = try graph.personID(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+79161234567"))
        #expect(customer != nil)
        for visit in 1...8 {
            let person = try graph.personID(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .cookie, value: "weekly-\(visit)"))
            #expect(person == customer, "weekly cookie \(visit) is the customer's again")
        }
        let visitors = try Set((1...6).map { try graph.personID(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .email, value: "visitor\($0)@mail.ru")) })
        #expect(visitors.count == 6, "the office phone's visitors stay apart")
        let relinked = try graph.merges(after: 0, limit: 1000).filter { $0.reason == .unquarantine }
        #expect(relinked.count == 8, "the change feed records the phone and its 8 weekly cookies joined again")
        let verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations)")
        let watched = try graph.environment.read { txn in
            let node = try #require(try graph.identNode(site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+79161234567"), txn))
            return try !graph.nodeRecord(node, txn).flags.contains(.released)
        }
        #expect(watched, "a re-judged phone is watched again by the rule, not exempt like an operator's release")
        graph.close()
        let again = try IdentityGraph(path: path, storeOptions: Self.options)
        #expect(again.migration == nil && again.hubRejudging == nil, "re-judged once")
        again.close()
    }
}
