import StitchGraph
import StitchIdentity
import StitchWire
import Testing

/// An open page keeps its number: renewals hold it from now again, up to a
/// cap after the holder's last activity, and extend the stored lease so a
/// later call is matched by time to the page that showed the number.
@Suite("Lease renewals by open pages")
struct LeaseRenewalTests {
    let hold: Int64 = 900_000
    let now: Int64 = 1_780_000_000_000
    let cap: Int64 = 2 * 3_600_000

    func tracking() throws -> CallTracking {
        CallTracking(pools: [7: try NumberPool(dynamicNumbers: ["+74951000001"], fallbackNumber: "+74951000009")], renewalMaxMs: cap)
    }

    @Test("a renewed number is not given to the next visitor; unrenewed, it is")
    func renewalHoldsTheNumber() throws {
        let calls = try tracking()
        #expect(calls.lease(site: 7, session: "session-a", nowMs: now).kind == .new)
        for minute: Int64 in [5, 10, 15, 20] {
            let renewed = calls.renew(site: 7, session: "session-a", nowMs: now + minute * 60_000)
            #expect(renewed == LeaseGrant(kind: .renewed, number: "+74951000001", heldUntilMs: now + minute * 60_000 + hold))
        }
        #expect(calls.lease(site: 7, session: "session-b", nowMs: now + 30 * 60_000).kind == .fallback)
        #expect(calls.pressure(nowMs: now + 30 * 60_000)[7] == LeasePressure(active: 0, openPage: 1, free: 0))
        // Without renewals after minute 20 the hold ends at 35.
        #expect(calls.lease(site: 7, session: "session-b", nowMs: now + 36 * 60_000).kind == .new)
        #expect(calls.renew(site: 7, session: "session-a", nowMs: now + 37 * 60_000).kind == .lapsed)
    }

    @Test("renewals stop at the cap after the last activity; activity restarts the cap")
    func capFromLastActivity() throws {
        let calls = try tracking()
        _ = calls.lease(site: 7, session: "session-a", nowMs: now)
        var t = now
        while t + 5 * 60_000 <= now + cap {
            t += 5 * 60_000
            #expect(calls.renew(site: 7, session: "session-a", nowMs: t).kind == .renewed)
        }
        let capped = calls.renew(site: 7, session: "session-a", nowMs: now + cap + 60_000)
        #expect(capped.kind == .capped)
        #expect(capped.heldUntilMs == t + hold, "a capped renewal does not extend the hold")
        // A page view (a lease request) is activity: renewals go on.
        _ = calls.lease(site: 7, session: "session-a", nowMs: now + cap + 120_000)
        #expect(calls.renew(site: 7, session: "session-a", nowMs: now + cap + 300_000).kind == .renewed)
        // So is an event the writer saw: renewals go on from it until the cap.
        t = now + cap + 300_000
        let activity = t + 60_000
        calls.noteActivity([LeaseActivity(site: 7, number: "+74951000001", session: "session-a", heldUntilMs: activity + hold)])
        while t + 5 * 60_000 <= activity + cap {
            t += 5 * 60_000
            #expect(calls.renew(site: 7, session: "session-a", nowMs: t).kind == .renewed)
        }
        #expect(calls.renew(site: 7, session: "session-a", nowMs: activity + cap + 1).kind == .capped)
    }

    @Test("the graph extends a renewing session's stored lease, so a call after the first hold is matched to it")
    func renewalExtendsTheStoredLease() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        try test.apply([Calls.shown(session: "session-1", cookie: "cookie-1", at: t0)])
        for renewal: Int64 in [5, 10, 15] {
            try test.graph.apply([], renewals: [LeaseRenewal(site: 1, session: "session-1", timeMs: t0 + renewal * minute)], nowMs: IdentityGraph.wallClockMs())
        }
        // 28 minutes on: the first hold (15 min) is long over; the renewal at 15 covers it.
        let report = try test.apply([Calls.call(from: "+7 916 111-22-33", at: t0 + 28 * minute)])
        #expect(report.callsMatched == 1)
        #expect(try test.person(.phone, "+79161112233") == test.person(.cookie, "cookie-1"))
        // Past the last renewal's hold (15 + 15 min): unknown traffic.
        #expect(try test.apply([Calls.call(from: "+7 916 111-22-44", at: t0 + 31 * minute)]).callsMatched == 0)
        // Renewals store no event; one naming no number creates no identifier.
        let events = try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .cookie, value: "cookie-1"), query: HistoryQuery())
        #expect(events?.events.count == 2, "number_shown and the matched call")
        try test.graph.apply([], renewals: [LeaseRenewal(site: 1, session: "session-unknown", timeMs: t0)], nowMs: IdentityGraph.wallClockMs())
        #expect(try test.person(.session, "session-unknown") == nil)
    }

    @Test("renewals naming their number count in any arrival order; a stale one for a number the session left does not")
    func renewalsInAnyOrder() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        // The renewals come first, before any event of their session.
        for renewal: Int64 in [10, 5] {
            try test.graph.apply([], renewals: [
                LeaseRenewal(site: 1, session: "session-1", timeMs: t0 + renewal * minute, trackingNumber: "+74951000001"),
            ], nowMs: IdentityGraph.wallClockMs())
        }
        try test.apply([Calls.shown(session: "session-1", cookie: "cookie-1", at: t0)])
        #expect(try test.apply([Calls.call(from: "+7 916 111-22-55", at: t0 + 24 * minute)]).callsMatched == 1)
        #expect(try test.person(.phone, "+79161112255") == test.person(.cookie, "cookie-1"))

        // Shown another number later: a late renewal of the first is stale.
        try test.apply([Calls.shown(session: "session-1", cookie: "cookie-1", at: t0 + 60 * minute, number: "+74951000002")])
        try test.graph.apply([], renewals: [
            LeaseRenewal(site: 1, session: "session-1", timeMs: t0 + 70 * minute, trackingNumber: "+74951000001"),
        ], nowMs: IdentityGraph.wallClockMs())
        #expect(try test.apply([Calls.call(from: "+7 916 111-22-66", at: t0 + 80 * minute)]).callsMatched == 0,
                "the first number is not the session's any more")
        #expect(try test.apply([Calls.call(from: "+7 916 111-22-77", to: "+74951000002", at: t0 + 74 * minute)]).callsMatched == 1)
    }
}

@Suite("Leases in any arrival order")
struct LeaseOrderTests {
    @Test("hits applied before their session's number_shown keep the lease it opens alive, as in order")
    func activityBeforeTheLease() throws {
        let t0 = Calls.t0, minute = Calls.minute
        let beacons = [
            Calls.shown(session: "session-1", cookie: "cookie-1", at: t0),
            Calls.hit(session: "session-1", cookie: "cookie-1", at: t0 + 12 * minute),
        ]
        for order in [beacons, beacons.reversed()] {
            let test = try TestGraph(callTracking: try Calls.tracking())
            for beacon in order { try test.apply([beacon]) }
            // 20 minutes after shown, 8 after the hit: covered only thanks to the hit.
            var call = Calls.call(from: "", at: t0 + 20 * minute)
            call.call.callerPhone = ""
            #expect(try test.apply([call]).callsMatched == 1, "applied \(order.map(\.timeMs))")
        }
    }
}
