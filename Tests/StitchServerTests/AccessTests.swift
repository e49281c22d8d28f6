import StitchClient
import StitchServer
import StitchWire
import Testing

/// Tokens bound to sites (DESIGN.md §7): a site token never sees another site.
@Suite("Query tokens and sites")
struct AccessTests {
    @Test("a token for site A never sees site B; admin sees both; a wrong token is refused")
    func siteTokenIsConfined() async throws {
        let server = try await TestServer { $0.tokens = [TokenGrant(token: "site-a", sites: [1]), TokenGrant(token: "boss", sites: [])] }
        let ingest = try await server.ingestClient()
        let t = Int64(1_700_000_000_000)
        _ = try await ingest.send([
            Beacons.hit(site: 1, timeMs: t, cookie: "cookie-site-a1", session: "session-site-a1"),
            Beacons.hit(site: 2, timeMs: t, cookie: "cookie-site-b1", session: "session-site-b1"),
            Beacons.hit(site: 2, timeMs: t, cookie: "cookie-site-a1", session: "session-site-b2"),
        ], sequence: 1).get()

        let siteA = try await server.queryClient(token: "site-a")
        #expect(siteA.hello.sites == [1])
        #expect(try await siteA.lookup(site: 1, kind: .cookie, value: "cookie-site-a1").person.eventCount == 1)
        let denied = try await siteA.response(.lookup(.with {
            $0.site = 2
            $0.person.identifier = Beacons.identifier(.cookie, "cookie-site-b1")
        })).get()
        #expect(denied.error.code == .permissionDenied)
        let history = try await siteA.response(.history(.with {
            $0.site = 2
            $0.person.personID = 1
        })).get()
        #expect(history.error.code == .permissionDenied)
        // The change feed over "all my sites" holds site 1 only.
        let merges = try await siteA.mergesSince()
        #expect(!merges.merges.isEmpty)
        #expect(merges.merges.allSatisfy { $0.site == 1 })
        // A person id of site 2 asked through site 1 never shows site 2's
        // person (ids are per shard: it may name one of site 1's own).
        let admin = try await server.queryClient(token: "boss")
        let siteBPerson = try await admin.lookup(site: 2, kind: .cookie, value: "cookie-site-b1").person.personID
        let asked = try await siteA.request(.lookup(.with { $0.site = 1; $0.person.personID = siteBPerson; $0.includeIdentifiers = true }))
        guard case .lookup(let found) = asked else { Issue.record("not a lookup answer: \(asked)"); return }
        #expect(found.person.site != 2)
        #expect(!found.person.identifiers.contains { $0.value.contains("site-b") })
        let stats = try await siteA.response(.stats(.init())).get()
        #expect(stats.error.code == .permissionDenied)
        #expect(try await admin.stats().events == 3)
        #expect(try await admin.mergesSince(site: 2).merges.contains { $0.site == 2 })
        // Sites 1 and 2 live in different shards: a feed of all sites is per site.
        let allSites = try await admin.response(.mergesSince(.init())).get()
        #expect(allSites.error.code == .invalidArgument)

        await #expect(throws: ClientError.self) { try await server.queryClient(token: "guess") }
        await siteA.close()
        await admin.close()
        await ingest.close()
        await server.stopAndRemove()
    }

    @Test("the blocking connection says the same hello: sites granted, a wrong token refused by code")
    func blockingConnectionHello() async throws {
        let server = try await TestServer { $0.tokens = [TokenGrant(token: "site-a", sites: [1])] }
        let port = server.ports.query
        let granted = try await Task.detached {
            try BlockingQueryConnection(host: "127.0.0.1", port: port, token: "site-a").hello.sites
        }.value
        #expect(granted == [1])
        let refused = await Task.detached { () -> ClientError? in
            do {
                _ = try BlockingQueryConnection(host: "127.0.0.1", port: port, token: "guess")
                return nil
            } catch { return error as? ClientError }
        }.value
        guard case .server(let error)? = refused else { Issue.record("not refused by the server: \(String(describing: refused))"); return }
        #expect(error.code == .unauthenticated)
        await server.stopAndRemove()
    }
}
