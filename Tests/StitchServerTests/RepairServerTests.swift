import StitchClient
import StitchServer
import StitchTesting
import StitchWire
import Testing

/// Quarantine, declared junk, the change feed and erasure over the query
/// protocol, against a real server.
@Suite("Repairs over the wire")
struct RepairServerTests {
    static let t0: Int64 = 1_767_225_600_000
    static let office = "+7 495 555-00-11"

    static func glue(_ ingest: IngestClient, visitors: ClosedRange<Int>, phone: String, sequence: UInt64) async throws {
        var beacons: [Stitch_V1_Beacon] = []
        for visitor in visitors {
            beacons.append(Beacons.hit(timeMs: t0 + Int64(visitor), cookie: "cookie-wire-\(visitor)", session: "session-wire-\(visitor)"))
            beacons.append(Beacons.form(timeMs: t0 + 1000 + Int64(visitor), cookie: "cookie-wire-\(visitor)", phone: phone))
        }
        guard case .ack(let ack) = try await ingest.send(beacons, sequence: sequence).get() else {
            Issue.record("batch \(sequence) refused")
            return
        }
        #expect(ack.accepted == UInt32(beacons.count))
    }

    static func person(_ client: QueryClient, _ visitor: Int) async throws -> UInt64? {
        let answer = try await client.lookup(site: 1, kind: .cookie, value: "cookie-wire-\(visitor)")
        return answer.found ? answer.person.personID : nil
    }

    @Test("admin quarantine splits persons and the feed says so; a pool's office number is quarantined when set; forget suppresses later beacons")
    func quarantineJunkAndForget() async throws {
        let server = try await TestServer {
            $0.hubLinksMax = 0
            $0.tokens = [TokenGrant(token: "boss", sites: []), TokenGrant(token: "site-1", sites: [1])]
        }
        let ingest = try await server.ingestClient()
        try await Self.glue(ingest, visitors: 1...3, phone: Self.office, sequence: 1)
        try await Self.glue(ingest, visitors: 4...5, phone: "+7 495 555-00-22", sequence: 2)
        let site = try await server.queryClient(token: "site-1")
        let admin = try await server.queryClient(token: "boss")
        let phone = Beacons.identifier(.phone, Self.office)

        let denied = try await site.response(.quarantine(.with { $0.site = 1; $0.identifier = phone })).get()
        #expect(denied.error.code == .permissionDenied)
        let tooLong = try await admin.response(.quarantine(.with { $0.site = 1; $0.identifier = phone; $0.reason = String(repeating: "x", count: 201) })).get()
        #expect(tooLong.error.code == .invalidArgument)
        let cursor = try await site.mergesSince(site: 1).nextCursor
        let repaired = try await admin.quarantine(site: 1, identifier: phone, reason: "reception")
        #expect(repaired.changed && repaired.personIds.count == 4, "the phone and three visitors")
        let persons = try await (1...3).asyncMap { try await Self.person(site, $0) }
        #expect(Set(persons).count == 3)
        let feed = try await site.mergesSince(site: 1, cursor: cursor)
        #expect(feed.merges.count == 1 && feed.merges[0].kind == .split && feed.merges[0].reason == .quarantine)
        #expect(Set(feed.merges[0].splitInto).isSubset(of: Set(repaired.personIds)))
        let shared = try await site.shared(site: 1)
        #expect(shared.identifiers.map(\.identifier.value) == ["+74955550011"] && shared.identifiers[0].source == .manual)
        #expect(ResourceBoundsTests.counter(server, "stitch_quarantines_total{source=\"manual\"") == 1)

        // Setting a pool whose office number was linked repairs at once.
        _ = try await admin.setPool(site: 1, .with {
            $0.dynamicNumbers = ["+7 495 300-00-01"]
            $0.officeNumbers = ["+7 495 555-00-22"]
        })
        #expect(try await Self.person(site, 4) != Self.person(site, 5))
        #expect(try await site.shared(site: 1).identifiers.contains { $0.source == .junk && $0.identifier.value == "+74955550022" })

        // Forget: counts, no values; later beacons carrying it are not stored.
        let notFound = try await admin.response(.forget(.with { $0.site = 1; $0.identifier = Beacons.identifier(.cookie, "cookie-nobody") })).get()
        #expect(notFound.error.code == .notFound)
        let erased = try await admin.forget(site: 1, identifier: Beacons.identifier(.cookie, "cookie-wire-2"))
        #expect(erased.identifiers == 2 && erased.events == 2 && erased.identifierHash.count == 32)
        #expect(try await Self.person(site, 2) == nil)
        guard case .ack(let ack) = try await ingest.send(
            [Beacons.hit(timeMs: Self.t0 + 9000, cookie: "cookie-wire-2", session: "session-wire-new")], sequence: 3
        ).get() else {
            Issue.record("refused")
            return
        }
        #expect(ack.suppressed == 1 && ack.accepted == 0)
        #expect(ResourceBoundsTests.counter(server, "stitch_beacons_suppressed_total") == 1)
        #expect(try await site.mergesSince(site: 1, cursor: cursor).merges.last?.kind == .erase)
        try await Self.glue(ingest, visitors: 6...7, phone: "+7 495 555-00-33", sequence: 4)
        #expect(try await Self.person(site, 6) == Self.person(site, 7))

        await ingest.close()
        await site.close()
        await admin.close()
        await server.stop()

        // A phone declared junk after it linked is quarantined at the next start.
        let restarted = try await TestServer(directory: server.directory) {
            $0.hubLinksMax = 0
            $0.junkPhones = [1: ["+7 495 555-00-33"]]
        }
        let query = try await restarted.queryClient()
        #expect(try await Self.person(query, 6) != Self.person(query, 7), "repaired at start")
        #expect(try await query.shared(site: 1).identifiers.contains { $0.source == .junk && $0.identifier.value == "+74955550033" })
        await query.close()
        await restarted.stopAndRemove()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
