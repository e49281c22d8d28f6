import StitchBeacon
@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchTesting
import StitchWire
import Testing

/// Moving a store to another shard layout: what an export of events leaves
/// behind (manual quarantines, released identifiers, the suppression list)
/// is carried ahead of the re-imported events, which then arrive to the
/// state the old store was in.
@Suite("Carrying state into a resharded store")
struct CarryTests {
    static let t0: Int64 = 1_767_225_600_000
    static let office = "+74951234567"
    static let family = "family@mail.ru"

    /// Visitors 1…n of `site`: a visit each, then a form naming `phone` or
    /// `email` (and, with `ownPhones`, each visitor's own phone beside it).
    static func glue(
        _ graph: IdentityGraph, site: UInt32, visitors: Int, phone: String = "", email: String = "", ownPhones: Bool = false
    ) throws {
        var time = t0
        for visitor in 1...visitors {
            time += 60_000
            try graph.apply([Beacons.hit(site: site, time: time, [(.cookie, "cookie-\(site)-\(visitor)"), (.session, "session-\(site)-\(visitor)")])], receivedMs: 1)
        }
        for visitor in 1...visitors {
            time += 60_000
            let typed = ownPhones ? "+7916555550\(visitor)" : phone
            try graph.apply([Beacons.form(site: site, time: time, cookie: "cookie-\(site)-\(visitor)", phone: typed, email: email)], receivedMs: 1)
        }
    }

    static func person(_ store: ShardedGraph, site: UInt32, _ kind: IdentifierKind, _ value: String) throws -> UInt64? {
        try store.graph(site: site).personID(site: site, identifier: NormalizedIdentifier(uncheckedKind: kind, value: value))
    }

    static func open(_ directory: TemporaryDirectory, shards: Int) throws -> ShardedGraph {
        try ShardedGraph(
            dataDirectory: directory.appending("data"), layout: try ShardLayout(count: shards),
            storeOptions: StoreOptions(mapBytes: 64 << 20, durability: .nosync))
    }

    @Test("quarantines, releases and erasures of a 2-shard store hold in a 3-shard store rebuilt from its events")
    func reshardKeepsRepairs() throws {
        let oldDirectory = try TemporaryDirectory("stitch-carry-old")
        let newDirectory = try TemporaryDirectory("stitch-carry-new")
        defer { oldDirectory.remove(); newDirectory.remove() }
        let old = try Self.open(oldDirectory, shards: 2)
        // Site 1: an office phone glues 2 visitors; the operator quarantines it.
        try Self.glue(old.graph(site: 1), site: 1, visitors: 2, phone: Self.office)
        _ = try old.graph(site: 1).quarantine(site: 1, identifier: .init(uncheckedKind: .phone, value: Self.office), reason: "reception", nowMs: IdentityGraph.wallClockMs())
        // Site 2: a family e-mail typed beside 5 members' own phones trips the
        // automatic rule; the operator releases it, so the 5 stay one person (5 phones: the cap).
        try Self.glue(old.graph(site: 2), site: 2, visitors: 5, email: Self.family, ownPhones: true)
        let familyEmail = NormalizedIdentifier(uncheckedKind: .email, value: Self.family)
        #expect(try old.graph(site: 2).shared(site: 2, limit: 10).first?.record.source == .automatic)
        _ = try old.graph(site: 2).unquarantine(site: 2, identifier: familyEmail, nowMs: IdentityGraph.wallClockMs())
        // One erased person per site.
        for site: UInt32 in [1, 2] {
            try old.graph(site: site).apply([Beacons.form(site: site, time: Self.t0, cookie: "cookie-gone-\(site)", phone: "+7916333333\(site)")], receivedMs: 1)
            #expect(try old.graph(site: site).forget(site: site, identifier: .init(uncheckedKind: .phone, value: "+7916333333\(site)"), nowMs: IdentityGraph.wallClockMs()) != nil)
        }
        #expect(try Self.person(old, site: 1, .cookie, "cookie-1-1") != Self.person(old, site: 1, .cookie, "cookie-1-2"))
        #expect(try Self.person(old, site: 2, .cookie, "cookie-2-1") == Self.person(old, site: 2, .cookie, "cookie-2-5"))

        var new = try Self.open(newDirectory, shards: 3)
        var report = CarryReport()
        for shard in old.shards { report = report + (try new.adopt(try shard.carriedState(), nowMs: IdentityGraph.wallClockMs())) }
        #expect(report.quarantines == 1 && report.released == 1 && report.erasures == 2 && report.suppressions == 4)
        new.close()
        new = try Self.open(newDirectory, shards: 3)  // the carried secrets are read at open
        defer { new.close() }

        // The events, exported shard by shard and applied as `stitch import` would.
        for shard in old.shards {
            var cursor: UInt64 = 0
            while case let page = try shard.events(after: cursor, limit: 100), let last = page.last {
                for record in page {
                    let beacon = StoredBeacon.decode(record.body, identifiers: record.identifiers, seq: record.seq)
                    try new.graph(site: beacon.site).apply([beacon], receivedMs: 1)
                }
                cursor = last.seq
            }
        }
        #expect(try new.totals().events == old.totals().events)
        #expect(try Self.person(new, site: 1, .cookie, "cookie-1-1") != Self.person(new, site: 1, .cookie, "cookie-1-2"), "the quarantine holds")
        #expect(try new.graph(site: 1).shared(site: 1, limit: 10).map(\.record.reason) == ["reception"])
        #expect(try Self.person(new, site: 2, .cookie, "cookie-2-1") == Self.person(new, site: 2, .cookie, "cookie-2-5"), "the release holds")
        #expect(try new.graph(site: 2).shared(site: 2, limit: 10).isEmpty)
        for site: UInt32 in [1, 2] {
            let later = try new.graph(site: site).apply([Beacons.hit(site: site, time: Self.t0 + 1, [(.cookie, "cookie-gone-\(site)")])], receivedMs: 1)
            #expect(later.suppressed == [0], "an erased identifier of site \(site) is still refused")
        }
        #expect(try new.graph(site: 1).erasures(after: 0, limit: 10).map(\.site) == [1])
        for shard in new.shards {
            let verified = try GraphVerifier(graph: shard).verify()
            #expect(verified.isSound, "\(verified.violations)")
        }
        #expect(throws: GraphError.carryIntoStoreWithEvents(events: try new.totals().events)) {
            try new.adopt(try old.shards[0].carriedState(), nowMs: IdentityGraph.wallClockMs())
        }

        // Into one shard: both old shards' lists (and secrets) meet there.
        let oneDirectory = try TemporaryDirectory("stitch-carry-one")
        defer { oneDirectory.remove() }
        var one = try Self.open(oneDirectory, shards: 1)
        for shard in old.shards { _ = try one.adopt(try shard.carriedState(), nowMs: IdentityGraph.wallClockMs()) }
        one.close()
        one = try Self.open(oneDirectory, shards: 1)
        defer { one.close() }
        for site: UInt32 in [1, 2] {
            let later = try one.graph(site: site).apply([Beacons.hit(site: site, time: Self.t0 + 1, [(.cookie, "cookie-gone-\(site)")])], receivedMs: 1)
            #expect(later.suppressed == [0], "site \(site)'s erased identifier is refused in the one-shard store")
        }
        old.close()
    }
}
