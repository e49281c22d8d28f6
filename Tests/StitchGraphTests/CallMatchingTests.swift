import StitchGraph
import StitchIdentity
import StitchWire
import Testing

/// Builders for call-tracking scenarios: a site whose pool holds one
/// dynamic number, and sessions that are shown it.
enum Calls {
    static let number = "+74951000001"
    static let minute: Int64 = 60_000
    static let t0: Int64 = 1_780_000_000_000

    static func tracking(holdSeconds: UInt32 = 900) throws -> CallTracking {
        CallTracking(pools: [1: try NumberPool(
            dynamicNumbers: ["8 (495) 100-00-01", "+7 495 100-00-02"],
            holdSeconds: holdSeconds,
            fallbackNumber: "+7 495 100-00-09",
            staticNumbers: [("+7 495 200-00-00", StaticNumberSource(source: "billboard", medium: "offline"))],
            officeNumbers: ["+7 495 000-00-01"])])
    }

    static func shown(session: String, cookie: String, at time: Int64, number: String = number) -> Stitch_V1_Beacon {
        var beacon = Beacons.hit(time: time, [(.cookie, cookie), (.session, session)])
        beacon.numberShown = .with { $0.trackingNumber = number }
        return beacon
    }

    static func hit(session: String, cookie: String, at time: Int64) -> Stitch_V1_Beacon {
        Beacons.hit(time: time, [(.cookie, cookie), (.session, session)])
    }

    static func call(from caller: String, to number: String = number, at time: Int64, seconds: UInt32 = 60)
        -> Stitch_V1_Beacon
    {
        .with {
            $0.site = 1
            $0.timeMs = time
            $0.call = .with {
                $0.callID = "call-\(time)-\(caller)"
                $0.callerPhone = caller
                $0.trackingNumber = number
                $0.durationS = seconds
                $0.answered = seconds > 0
            }
        }
    }
}

@Suite("Call matching by lease, judged by event time")
struct CallMatchingTests {
    @Test func twoSessionsShareANumberAtDifferentTimes() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        try test.apply([
            Calls.shown(session: "session-1", cookie: "cookie-1", at: t0),
            Calls.hit(session: "session-1", cookie: "cookie-1", at: t0 + 5 * minute),
            Calls.shown(session: "session-2", cookie: "cookie-2", at: t0 + 60 * minute),
        ])
        // Both calls arrive together, the later one first.
        let report = try test.apply([
            Calls.call(from: "+7 916 000-00-02", at: t0 + 70 * minute),
            Calls.call(from: "+7 916 000-00-01", at: t0 + 10 * minute),
        ])
        #expect(report.callsMatched == 2)
        #expect(try test.person(.phone, "+79160000001") == test.person(.cookie, "cookie-1"))
        #expect(try test.person(.phone, "+79160000002") == test.person(.cookie, "cookie-2"))
        #expect(try test.person(.cookie, "cookie-1") != test.person(.cookie, "cookie-2"))

        let history = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .cookie, value: "cookie-2"),
            query: HistoryQuery(types: [.call])))
        #expect(history.events.map(\.callMatch?.kind) == [.session])
        #expect(history.events.map(\.callMatch?.session) == ["session-2"])
    }

    @Test func aCallAtExactlyTheLeaseEndIsCoveredAndOneMillisecondLaterIsNot() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        let end = t0 + 2 * minute + 15 * minute  // last activity + hold
        try test.apply([
            Calls.shown(session: "session-1", cookie: "cookie-1", at: t0),
            Calls.hit(session: "session-1", cookie: "cookie-1", at: t0 + 2 * minute),
        ])
        let report = try test.apply([
            Calls.call(from: "+79160000001", at: end),
            Calls.call(from: "+79160000002", at: end + 1),
        ])
        #expect(report.callsMatched == 1)
        #expect(report.callsUnmatched == 1)
        #expect(try test.person(.phone, "+79160000001") == test.person(.cookie, "cookie-1"))
        #expect(try test.person(.phone, "+79160000002") != test.person(.cookie, "cookie-1"))
        let unknown = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+79160000002"), query: HistoryQuery()))
        #expect(unknown.events.map(\.callMatch?.kind) == [.unknown])
    }

    @Test func aCallArrivingBeforeTheHitThatKeptItsLeaseAliveIsMatchedWhenTheHitArrives() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        try test.apply([Calls.shown(session: "session-1", cookie: "cookie-1", at: t0)])
        // At t0 + 25 min the lease (t0 + 15 min) had lapsed, as far as the
        // store knows: the call waits as unknown traffic.
        let early = try test.apply([
            Calls.call(from: "+79160000001", at: t0 + 25 * minute),
            Calls.call(from: "", at: t0 + 26 * minute),  // a hidden caller
        ])
        #expect(early.callsUnmatched == 2)
        #expect(try test.person(.phone, "+79160000001") != test.person(.cookie, "cookie-1"))
        // The hit of t0 + 20 min arrives late and keeps the lease to t0 + 35 min.
        let late = try test.apply([Calls.hit(session: "session-1", cookie: "cookie-1", at: t0 + 20 * minute)])
        #expect(late.callsMatchedLate == 2)
        #expect(try test.person(.phone, "+79160000001") == test.person(.cookie, "cookie-1"))
        let calls = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .cookie, value: "cookie-1"),
            query: HistoryQuery(types: [.call])))
        #expect(calls.events.count == 2, "the hidden caller's call moved to the session's person")
        #expect(calls.events.allSatisfy { $0.callMatch?.kind == .session && $0.callMatch?.session == "session-1" })
        #expect(try test.graph.totals().unlinkedEvents == 0)
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }

    @Test func aLateNumberShownInTheSameBatchMatchesAWaitingHiddenCall() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        let report = try test.apply([
            Calls.call(from: "", at: t0 + 3 * minute),
            Calls.shown(session: "session-1", cookie: "cookie-1", at: t0),
        ])
        #expect(report.callsUnmatched == 1)
        #expect(report.callsMatchedLate == 1)
        let person = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .session, value: "session-1"), query: HistoryQuery()))
        #expect(person.events.map(\.type) == [.numberShown, .call])
        #expect(try test.graph.totals().unlinkedEvents == 0)
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }

    @Test func staticAndOfficeNumbersAreNotMatchedToSessions() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0
        try test.apply([Calls.shown(session: "session-1", cookie: "cookie-1", at: t0)])
        let report = try test.apply([
            Calls.call(from: "+79160000001", to: "84952000000", at: t0 + 1000),
            Calls.call(from: "+79160000002", to: "+7 495 000-00-01", at: t0 + 2000),
            // A visitor typing the office number on a form is not identified by it.
            Beacons.form(time: t0 + 3000, cookie: "cookie-1", phone: "+7 495 000-00-01"),
        ])
        #expect(report.callsMatched == 0)
        #expect(try test.person(.phone, "+74950000001") == nil, "office numbers are junk as identifiers")
        let staticCall = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+79160000001"), query: HistoryQuery()))
        #expect(staticCall.events[0].callMatch?.kind == .staticNumber)
        #expect(staticCall.events[0].callMatch?.source?.source == "billboard")
        let officeCall = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .phone, value: "+79160000002"), query: HistoryQuery()))
        #expect(officeCall.events[0].callMatch?.kind == .office)
    }

    @Test func leasesSurviveARestartAndRebuildTheAllocator() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0
        try test.apply([Calls.shown(session: "session-1", cookie: "cookie-1", at: t0)])
        try test.reopen()
        try test.apply([Calls.call(from: "+79160000001", at: t0 + 60_000)])
        #expect(try test.person(.phone, "+79160000001") == test.person(.cookie, "cookie-1"))
        let held = try test.graph.leaseActivity(heldAt: t0 + 60_000)
        #expect(held == [LeaseActivity(site: 1, number: Calls.number, session: "session-1", heldUntilMs: t0 + 15 * Calls.minute)])
    }
}
