import Foundation
import StitchClient
import StitchServer
import StitchWire
import Testing

/// Renewals through the server: the tracker's `GET /v1/lease?renew=1` and a
/// server-side tracker's `lease_renewal` beacon.
@Suite("Lease renewals through the server")
struct LeaseRenewalServerTests {
    static func json(_ response: (status: Int, body: Data)) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
    }

    @Test("GET /v1/lease?renew=1 renews the session's number, says when to renew again, and says when it lapsed")
    func renewOverHTTP() async throws {
        let server = try await TestServer { $0.numberPools = try! CallTrackingServerTests.pools() }
        try await server.pageView(session: "session-renew-1")
        let granted = Self.json(try await HTTPIntakeTests.get(server, "/v1/lease?site=1&session=session-renew-1"))
        #expect(granted["kind"] as? String == "new" && granted["renew_after_ms"] as? Int == 300_000, "\(granted)")
        let renewed = Self.json(try await HTTPIntakeTests.get(server, "/v1/lease?site=1&session=session-renew-1&renew=1"))
        #expect(renewed["kind"] as? String == "renewed" && renewed["tracking_number"] as? String == "+74951000001", "\(renewed)")
        let stranger = Self.json(try await HTTPIntakeTests.get(server, "/v1/lease?site=1&session=session-renew-2&renew=1"))
        #expect(stranger["kind"] as? String == "lapsed" && stranger["tracking_number"] as? String == "", "a session holding nothing renews nothing: \(stranger)")
        #expect(try await HTTPIntakeTests.get(server, "/v1/lease?site=1&session=undefined&renew=1").status == 400)
        // Housekeeping records the pool's use: the one number held, by activity.
        try await eventually("stitch_lease_numbers recorded", seconds: 15) {
            let text = try await MetricsEndpointTests.get("/metrics", port: server.ports.http)
            return text.contains(#"stitch_lease_numbers{site="1",state="active"} 1"#)
                && text.contains(#"stitch_lease_numbers{site="1",state="free"} 0"#)
        }
        await server.stopAndRemove()
    }

    @Test("a lease_renewal beacon over TCP is acked, stores no event, and keeps the lease for a call past the first hold")
    func renewalBeacon() async throws {
        let server = try await TestServer { $0.numberPools = try! CallTrackingServerTests.pools() }
        let ingest = try await server.ingestClient()
        let t = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        var renewal = Beacons.hit(timeMs: t + 10 * 60_000, cookie: "cookie-renew-3", session: "session-renew-3")
        renewal.identifiers.removeAll { $0.kind == .cookie }
        renewal.leaseRenewal = .with { $0.trackingNumber = "+7 495 100-00-01" }
        var stranger = renewal
        stranger.identifiers = []
        let first = try await ingest.send([
            CallTrackingServerTests.shown(session: "session-renew-3", cookie: "cookie-renew-3", at: t, number: "+74951000001"),
            renewal, stranger,
        ], sequence: 1).get().ack
        #expect(first?.accepted == 2 && first?.rejected == 1, "a renewal without a session is refused: \(String(describing: first))")
        #expect(first?.rejections.first?.reason == .noIdentifiers)
        let second = try await ingest.send([
            CallTrackingServerTests.call(from: "+79163330003", to: "+74951000001", at: t + 20 * 60_000),
        ], sequence: 2).get().ack
        #expect(second?.accepted == 1)
        let query = try await server.queryClient()
        let caller = try await query.lookup(site: 1, kind: .phone, value: "+79163330003")
        let visitor = try await query.lookup(site: 1, kind: .cookie, value: "cookie-renew-3")
        #expect(caller.found && caller.person.personID == visitor.person.personID, "the call 20 min on is the visitor's")
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, "cookie-renew-3")
        })
        #expect(history.events.count == 2, "number_shown and the call; the renewal is no event")
        await query.close()
        await ingest.close()
        await server.stopAndRemove()
    }
}
