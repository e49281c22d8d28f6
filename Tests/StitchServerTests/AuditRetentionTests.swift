import Foundation
import NIOConcurrencyHelpers
import StitchClient
@testable import StitchServer
import StitchTesting
import StitchWire
import SwiftProtobuf
import Testing

/// The audit log and retention against a real server: admin actions are
/// recorded with token name, arguments (hashes, never values) and outcome,
/// durably across a restart that also records configuration changes; the
/// retention pass erases inactive persons by an injected clock.
@Suite("Audit log and retention", .serialized)
struct AuditRetentionTests {
    static let t0: Int64 = 1_767_225_600_000
    static let day: Int64 = 86_400_000

    static func configure(_ configuration: inout ServerConfiguration) {
        configuration.tokens = [TokenGrant(token: "boss-token-0001", sites: [], name: "ops"), TokenGrant(token: "site-1-token", sites: [1], name: "reports")]
        configuration.retentionDays = [1: 30]
        configuration.retentionPassIntervalMs = 3_600_000  // the test runs passes itself
    }

    static func phone(_ value: String) -> Stitch_V1_Identifier { Beacons.identifier(.phone, value) }

    @Test("in nosync mode a quarantine and a forget are checkpointed before they are answered; beacons wait for the interval")
    func nosyncAdminChangesAreSynced() async throws {
        let server = try await TestServer {
            Self.configure(&$0)
            $0.durability = .nosync
            $0.syncIntervalMs = 600_000  // no periodic checkpoint in this test
        }
        // Each shard's store took one checkpoint as it opened.
        let atStart = try #require(server.server.storeCheckpointCount)
        let ingest = try await server.ingestClient()
        _ = try await ingest.send([
            Beacons.form(timeMs: Self.t0, cookie: "cookie-durable-01", phone: "+79165550011"),
            Beacons.form(timeMs: Self.t0, cookie: "cookie-durable-02", phone: "+79165550012"),
        ], sequence: 1).get()
        await ingest.close()
        let afterBeacons = try #require(server.server.storeCheckpointCount)
        #expect(afterBeacons == atStart, "acked beacons are not checkpointed one by one in nosync mode")
        let admin = try await server.queryClient(token: "boss-token-0001")
        _ = try await admin.quarantine(site: 1, identifier: Self.phone("+79165550012"), reason: "office line")
        #expect(server.server.storeCheckpointCount == afterBeacons + 1)
        _ = try await admin.forget(site: 1, identifier: Self.phone("+79165550011"))
        #expect(server.server.storeCheckpointCount == afterBeacons + 2)
        await admin.close()
        await server.stopAndRemove()
    }

    @Test("admin actions are recorded before they apply, with outcome; a restart adds the configuration changes and keeps them")
    func auditRecordsAdminActions() async throws {
        let clock = NIOLockedValueBox<Int64>(Self.t0)
        let server = try await TestServer(clock: clock, Self.configure)
        let ingest = try await server.ingestClient()
        let ack = try await ingest.send([
            Beacons.form(timeMs: Self.t0, cookie: "cookie-audit-0001", phone: "+79165550001"),
            Beacons.form(timeMs: Self.t0, cookie: "cookie-audit-0002", phone: "+79165550002"),
        ], sequence: 1).get().ack
        #expect(ack?.accepted == 2)
        await ingest.close()

        let admin = try await server.queryClient(token: "boss-token-0001")
        _ = try await admin.quarantine(site: 1, identifier: Self.phone("+79165550002"), reason: "office line")
        let erasure = try await admin.forget(site: 1, identifier: Self.phone("+79165550001"))
        await #expect(throws: ClientError.self) { try await admin.forget(site: 1, identifier: Self.phone("+79165559999")) }
        _ = try await admin.setPool(site: 1, .with { $0.dynamicNumbers = ["+74950000001", "+74950000002"] })

        let page = try await admin.audit()
        let actions = page.entries.map(\.action)
        #expect(actions == ["retention_set", "token_added", "token_added", "quarantine", "forget", "forget", "pool_set"], "\(actions)")
        #expect(page.nextSeq == page.entries.last?.seq)
        let forget = page.entries[4]
        let arguments = Dictionary(forget.arguments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        #expect(forget.tokenName == "ops" && forget.site == 1 && forget.timeMs == Self.t0)
        #expect(arguments["identifier_kind"] == "phone")
        #expect(arguments["identifier_hash"] == erasure.identifierHash.map { String(format: "%02x", $0) }.joined())
        #expect(forget.outcome.hasPrefix("ok: person \(erasure.personID) erased"))
        #expect(page.entries[5].outcome.hasPrefix("refused: "), "\(page.entries[5].outcome)")
        #expect(page.entries[3].arguments.contains { $0.name == "reason" && $0.value == "office line" })
        #expect(page.entries[6].arguments.contains { $0.name == "dynamic_numbers" && $0.value == "2" })
        let everything = try page.jsonString()
        #expect(!everything.contains("79165550001") && !everything.contains("79165550002") && !everything.contains("boss-token"),
                "no identifier value and no token is written")
        #expect(try await admin.audit(afterSeq: page.entries[3].seq, limit: 2).entries.map(\.action) == ["forget", "forget"])

        // A site token may not read it.
        let reports = try await server.queryClient(token: "site-1-token")
        await #expect(throws: ClientError.self) { try await reports.audit() }
        await reports.close()
        // The JSON API serves the same entries.
        let json = try await QueryAPITests.call("/api/v1/audit?after=3&limit=2", port: server.ports.http, token: "boss-token-0001")
        #expect(json.status == 200)
        let entries = json.object["entries"] as? [[String: Any]] ?? []
        #expect(entries.map { $0["action"] as? String } == ["quarantine", "forget"] && json.object["next"] as? Int == 5)
        #expect((entries.last?["arguments"] as? [String: String])?["identifier_kind"] == "phone")
        await admin.close()
        await server.stop()

        // A restart with another token set and period: recorded, and the old entries kept.
        let restarted = try await TestServer(directory: server.directory, clock: clock) { configuration in
            Self.configure(&configuration)
            configuration.tokens = [TokenGrant(token: "boss-token-0002", sites: [], name: "ops")]
            configuration.retentionDays = [1: 60, 0: 365]
        }
        let again = try await restarted.queryClient(token: "boss-token-0002")
        let after = try await again.audit(afterSeq: page.nextSeq)
        let changes = after.entries.map { entry in
            "\(entry.action) \(entry.arguments.map { "\($0.name)=\($0.value)" }.joined(separator: " "))"
        }
        #expect(changes == [
            "retention_set site=1 from_days=30 to_days=60",
            "retention_set site=* from_days=none to_days=365",
            "token_changed name=ops changed=secret sites=all",
            "token_removed name=reports",
        ], "\(changes)")
        #expect(try await again.audit().entries.count == page.entries.count + 4)
        await again.close()
        await restarted.stopAndRemove()
    }

    @Test("the retention pass erases persons inactive for their site's period, keeps the others, and says so in the feed")
    func retentionErasesInactive() async throws {
        let clock = NIOLockedValueBox<Int64>(Self.t0)
        let server = try await TestServer(clock: clock, Self.configure)
        let ingest = try await server.ingestClient()
        var ack = try await ingest.send([
            Beacons.form(timeMs: Self.t0, cookie: "cookie-gone-0001", phone: "+79165551001"),
            Beacons.form(timeMs: Self.t0, cookie: "cookie-back-0001", phone: "+79165551002"),
            Beacons.form(site: 2, timeMs: Self.t0, cookie: "cookie-site2-0001", phone: "+79165551003"),
        ], sequence: 1).get().ack
        #expect(ack?.accepted == 3)
        #expect(await server.retentionPass()?.erased == 0, "nobody is 30 days old yet")

        clock.withLockedValue { $0 = Self.t0 + 31 * Self.day }
        ack = try await ingest.send([Beacons.form(timeMs: Self.t0 + 31 * Self.day, cookie: "cookie-back-0001", phone: "+79165551002")], sequence: 2).get().ack
        #expect(ack?.accepted == 1)
        await ingest.close()
        let run = try #require(await server.retentionPass())
        #expect(run.erased == 1 && run.failed == 0, "\(run)")

        let admin = try await server.queryClient(token: "boss-token-0001")
        #expect(try await admin.lookup(site: 1, kind: .phone, value: "+79165551001").found == false)
        #expect(try await admin.lookup(site: 1, kind: .phone, value: "+79165551002").found, "active again on day 31")
        #expect(try await admin.lookup(site: 2, kind: .phone, value: "+79165551003").found, "site 2 has no period")
        let feed = try await admin.mergesSince(site: 1, cursor: 0, limit: 1000)
        #expect(feed.merges.last?.kind == .erase && feed.merges.last?.reason == .retention)
        let stats = try await admin.stats()
        #expect(stats.total(.personsExpired) == 1)
        #expect(try await admin.audit().entries.allSatisfy { $0.action != "forget" }, "retention erasures are not admin actions")
        #expect(await server.retentionPass()?.erased == 0, "a second pass finds nobody")
        await admin.close()
        await server.stopAndRemove()
    }
}
