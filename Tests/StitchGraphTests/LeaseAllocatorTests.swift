import StitchGraph
import StitchWire
import Testing

@Suite("Lease requests: sticky, least recently released, fallback")
struct LeaseAllocatorTests {
    let hold: Int64 = 900_000
    let now: Int64 = 1_780_000_000_000

    func tracking() throws -> CallTracking {
        CallTracking(pools: [7: try NumberPool(dynamicNumbers: ["+74951000001", "+74951000002"], fallbackNumber: "+74951000009")])
    }

    @Test func stickyWhileTheLeaseLivesThenExhaustedThenFallback() throws {
        let calls = try tracking()
        let first = calls.lease(site: 7, session: "session-a", nowMs: now)
        #expect(first == LeaseGrant(kind: .new, number: "+74951000001", heldUntilMs: now + hold))
        let second = calls.lease(site: 7, session: "session-b", nowMs: now + 1)
        #expect(second.kind == .new)
        #expect(second.number == "+74951000002")
        // The pool is exhausted: a third session gets the fallback number.
        let third = calls.lease(site: 7, session: "session-c", nowMs: now + 2)
        #expect(third == LeaseGrant(kind: .fallback, number: "+74951000009", heldUntilMs: 0))
        // The first session asks again: same number, held longer.
        let again = calls.lease(site: 7, session: "session-a", nowMs: now + 60_000)
        #expect(again == LeaseGrant(kind: .sticky, number: "+74951000001", heldUntilMs: now + 60_000 + hold))
        #expect(calls.heldCount(site: 7, nowMs: now + 60_000) == 2)
    }

    @Test func theLeastRecentlyReleasedFreeNumberGoesFirst() throws {
        let calls = try tracking()
        _ = calls.lease(site: 7, session: "session-a", nowMs: now)          // …001 until now + hold
        _ = calls.lease(site: 7, session: "session-b", nowMs: now + 1000)   // …002 until now + 1 s + hold
        _ = calls.lease(site: 7, session: "session-a", nowMs: now + 5000)   // …001 until now + 5 s + hold
        // After both expired, …002 was released earlier: it goes first.
        let later = now + 10_000 + hold
        #expect(calls.lease(site: 7, session: "session-c", nowMs: later).number == "+74951000002")
        #expect(calls.lease(site: 7, session: "session-d", nowMs: later).number == "+74951000001")
        // A session whose lease lapsed is not sticky any more.
        #expect(calls.lease(site: 7, session: "session-a", nowMs: later).kind == .fallback)
    }

    @Test func activitySeenByTheWriterKeepsANumberHeld() throws {
        let calls = try tracking()
        _ = calls.lease(site: 7, session: "session-a", nowMs: now)
        // Hits of session-a keep its lease alive past the grant's hold.
        calls.noteActivity([LeaseActivity(site: 7, number: "+74951000001", session: "session-a", heldUntilMs: now + 3 * hold)])
        let later = now + 2 * hold
        #expect(calls.lease(site: 7, session: "session-a", nowMs: later).kind == .sticky)
        #expect(calls.lease(site: 7, session: "session-b", nowMs: later).number == "+74951000002")
        #expect(calls.lease(site: 7, session: "session-c", nowMs: later).kind == .fallback)
    }

    @Test func sitesWithoutAPoolAndPoolChanges() throws {
        let calls = try tracking()
        #expect(calls.lease(site: 8, session: "session-a", nowMs: now).kind == .noPool)
        _ = calls.lease(site: 7, session: "session-a", nowMs: now)
        let generation = calls.generation
        // A new pool keeps the held number with its session and adds one.
        calls.setPool(site: 7, try NumberPool(dynamicNumbers: ["+74951000001", "+74951000003"]))
        #expect(calls.generation > generation)
        #expect(calls.lease(site: 7, session: "session-a", nowMs: now + 1).kind == .sticky)
        #expect(calls.lease(site: 7, session: "session-b", nowMs: now + 1).number == "+74951000003")
        let none = calls.lease(site: 7, session: "session-c", nowMs: now + 1)
        #expect(none == LeaseGrant(kind: .fallback, number: nil, heldUntilMs: 0))
    }

    @Test func poolsRefuseBadAndRepeatedNumbers() {
        #expect(throws: NumberPoolError.self) { try NumberPool(dynamicNumbers: ["not a phone"]) }
        #expect(throws: NumberPoolError.duplicate("+74951000001")) {
            try NumberPool(
                dynamicNumbers: ["+74951000001"],
                officeNumbers: ["8 495 100 00 01"])
        }
    }
}
