import Foundation
import StitchClient
import StitchGraph
import StitchServer
import StitchWire
import Testing

/// Call tracking through a real server: pools from the configuration and
/// from `pool_set`, leases over the query protocol, calls sent to the
/// collector and matched, histories with attribution, explain.
@Suite("Call tracking over the wire")
struct CallTrackingServerTests {
    static func pools() throws -> [UInt32: NumberPool] {
        [1: try NumberPool(.with {
            $0.dynamicNumbers = ["+74951000001"]
            $0.fallbackNumber = "+74951000009"
            $0.officeNumbers = ["+74950000001"]
        })]
    }

    static func shown(session: String, cookie: String, at time: Int64, number: String) -> Stitch_V1_Beacon {
        var beacon = Beacons.hit(timeMs: time, cookie: cookie, session: session)
        beacon.numberShown = .with { $0.trackingNumber = number }
        return beacon
    }

    static func call(from caller: String, to number: String, at time: Int64) -> Stitch_V1_Beacon {
        .with {
            $0.site = 1
            $0.timeMs = time
            $0.call = .with {
                $0.callID = "call-1"
                $0.callerPhone = caller
                $0.trackingNumber = number
                $0.durationS = 95
                $0.answered = true
            }
        }
    }

    @Test func leaseShowCallAndExplain() async throws {
        let server = try await TestServer {
            $0.numberPools = try! Self.pools()
            $0.tokens = [TokenGrant(token: "boss", sites: []), TokenGrant(token: "site-1", sites: [1])]
        }
        let admin = try await server.queryClient(token: "boss")
        let site = try await server.queryClient(token: "site-1")

        let first = try await site.lease(site: 1, session: "session-lease-a")
        #expect(first.kind == .new)
        #expect(first.trackingNumber == "+74951000001")
        #expect(try await site.lease(site: 1, session: "session-lease-a").kind == .sticky)
        let exhausted = try await site.lease(site: 1, session: "session-lease-b")
        #expect(exhausted.kind == .fallback)
        #expect(exhausted.trackingNumber == "+74951000009")
        let counters = try await admin.stats().counters
        #expect(counters.contains { $0.name == "stitch_lease_pool_exhausted_total{site=\"1\"}" && $0.value == 1 })
        let notSession = try await site.response(.lease(.with {
            $0.site = 1
            $0.session = Beacons.identifier(.cookie, "cookie-lease-a")
        })).get()
        #expect(notSession.error.code == .invalidArgument)

        // The tracker shows the number; a minute later the visitor calls it.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let ingest = try await server.ingestClient()
        let ack = try await ingest.send([
            Self.shown(session: "session-lease-a", cookie: "cookie-lease-a", at: now, number: first.trackingNumber),
            Self.call(from: "8 916 555-44-33", to: first.trackingNumber, at: now + 60_000),
        ], sequence: 1).get().ack
        #expect(ack?.accepted == 2)
        let caller = try await site.lookup(site: 1, kind: .phone, value: "+79165554433")
        let visitor = try await site.lookup(site: 1, kind: .cookie, value: "cookie-lease-a")
        #expect(caller.person.personID == visitor.person.personID)

        let history = try await site.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, "cookie-lease-a")
            $0.types = [.call]
            $0.conversions = true
        })
        let call = try #require(history.events.first)
        #expect(call.callMatch.kind == .session)
        #expect(call.callMatch.session == "session-lease-a")
        #expect(call.conversion.unique && call.conversion.target)
        #expect(call.conversion.credits.map(\.source.kind) == [.direct])

        let explained = try await site.explain(
            site: 1, a: Beacons.identifier(.cookie, "cookie-lease-a"), b: Beacons.identifier(.phone, "8 916 555 44 33"))
        #expect(explained.verdict == .linked)
        #expect(explained.steps.map(\.eventType) == [.numberShown, .call])
        await ingest.close()
        await site.close()
        await admin.close()
        await server.stopAndRemove()
    }

    @Test func poolSetNeedsAdminAndOutlivesARestart() async throws {
        let server = try await TestServer {
            $0.numberPools = try! Self.pools()
            $0.tokens = [TokenGrant(token: "boss", sites: []), TokenGrant(token: "site-1", sites: [1])]
        }
        let newPool = Stitch_V1_NumberPool.with {
            $0.dynamicNumbers = ["8 (495) 300-00-01", "8 (495) 300-00-02"]
            $0.holdSeconds = 600
        }
        let site = try await server.queryClient(token: "site-1")
        let denied = try await site.response(.poolSet(.with {
            $0.site = 1
            $0.pool = newPool
        })).get()
        #expect(denied.error.code == .permissionDenied)
        let admin = try await server.queryClient(token: "boss")
        let bad = try await admin.response(.poolSet(.with {
            $0.site = 1
            $0.pool.dynamicNumbers = ["call me maybe"]
        })).get()
        #expect(bad.error.code == .invalidArgument)
        let set = try await admin.setPool(site: 1, newPool)
        #expect(set.pool.dynamicNumbers == ["+74953000001", "+74953000002"])
        #expect(try await site.lease(site: 1, session: "session-after-set").trackingNumber == "+74953000001")
        await site.close()
        await admin.close()
        await server.stop()

        // The configuration still names the old pool; the one set by the admin wins.
        let restarted = try await TestServer(directory: server.directory) {
            $0.numberPools = try! Self.pools()
            $0.tokens = [TokenGrant(token: "boss", sites: [])]
        }
        let again = try await restarted.queryClient(token: "boss")
        let pool = try await again.pool(site: 1)
        #expect(pool.pool.dynamicNumbers == ["+74953000001", "+74953000002"])
        #expect(pool.pool.holdSeconds == 600)
        // The number granted before the restart is not known to have been shown
        // (grants are not durable): the next session may get either number.
        #expect(try await again.lease(site: 1, session: "session-after-restart").kind == .new)
        await again.close()
        await restarted.stopAndRemove()
    }
}
