@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchTesting
import StitchWire
import Testing

/// Exactly-once storage by event id, in the graph's own transaction: an id is
/// recognised for the window of its *arrival*, whatever its event time.
@Suite("Dedup by event id")
struct DedupTests {
    static let t0: Int64 = 1_767_225_600_000

    static func hit(_ eventID: UInt64, at timeMs: Int64, site: UInt32 = 1) -> Stitch_V1_Beacon {
        .with {
            $0.site = site
            $0.timeMs = timeMs
            $0.eventID = eventID
            $0.identifiers = [.with {
                $0.kind = .cookie
                $0.value = "cookie-dedup-\(eventID % 7)"
            }]
            $0.hit = .init()
        }
    }

    static func dedupEntries(_ test: TestGraph) throws -> Int {
        try test.graph.environment.read { txn in try txn.count(test.graph.tables.dedup) }
    }

    /// Ids in the `dedup` table (an entry holds up to 120).
    static func dedupIDs(_ test: TestGraph) throws -> Int {
        try test.graph.environment.read { txn in
            var ids = 0
            try txn.scan(test.graph.tables.dedup) { _, value in
                ids += value.count / StoreKeys.dedupRecordBytes
                return true
            }
            return ids
        }
    }

    @Test("a resend is a repeat whatever its event time: a year back, a day ahead, in any order")
    func eventTimeDoesNotMatter() throws {
        let test = try TestGraph(configuration: GraphConfiguration(dedupWindowMs: 7 * 86_400_000))
        let year: Int64 = 365 * 86_400_000
        // A backfill: a year of history, newest first, then a live event.
        let history = (1...200).map { Self.hit(UInt64($0), at: Self.t0 - Int64($0) * year / 200) } + [Self.hit(201, at: Self.t0 + 86_400_000)]
        #expect(try test.apply(history, receivedMs: Self.t0).events == 201)
        // Re-sent six days later in another order and grouping: all repeats.
        let again = try test.apply(history.reversed(), receivedMs: Self.t0 + 6 * 86_400_000)
        #expect(again.events == 0 && again.repeats.count == 201)
        #expect(again.dedupExpiredReplaced == 0)
        try test.reopen()
        #expect(try test.apply(Array(history.prefix(50)), receivedMs: Self.t0 + 6 * 86_400_000).repeats.count == 50, "kept across a restart")
        #expect(try test.graph.totals().events == 201)
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }

    @Test("an id is forgotten a window after it arrived: pruned, then stored anew; the window slides on arrival")
    func windowCountsFromArrival() throws {
        let test = try TestGraph(configuration: GraphConfiguration(dedupWindowMs: 10_000))
        #expect(try test.apply([Self.hit(1, at: Self.t0)], receivedMs: Self.t0).events == 1)
        #expect(try test.apply([Self.hit(1, at: Self.t0)], receivedMs: Self.t0 + 9_000).repeats == [0])
        // 20 s after its arrival: any commit's pruning forgets it.
        let later = try test.apply([Self.hit(2, at: Self.t0 - 86_400_000)], receivedMs: Self.t0 + 20_000)
        #expect(later.dedupPruned == 1)
        #expect(try Self.dedupEntries(test) == 1)
        let resent = try test.apply([Self.hit(1, at: Self.t0)], receivedMs: Self.t0 + 20_000)
        #expect(resent.events == 1 && resent.repeats.isEmpty)
        #expect(try test.apply([Self.hit(1, at: Self.t0)], receivedMs: Self.t0 + 21_000).repeats == [0], "remembered again from its new arrival")
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }

    @Test("pruning forgets a bounded number per commit, oldest first; an expired id not pruned yet counts as absent")
    func pruningIsBounded() throws {
        let test = try TestGraph(configuration: GraphConfiguration(dedupWindowMs: 10_000))
        let count = GraphLimits.dedupPrunedPerCommitMin + 1_000
        for start in stride(from: 1, through: count, by: 1_000) {
            // Later ids arrive later: a millisecond a batch.
            try test.apply((start...min(count, start + 999)).map { Self.hit(UInt64($0), at: Self.t0) }, receivedMs: Self.t0 + Int64(start / 1_000))
        }
        #expect(try Self.dedupIDs(test) == count)
        // One event a window later: its commit forgets up to the bound, in
        // whole entries, not all.
        let first = try test.apply([Self.hit(1_000_000, at: Self.t0)], receivedMs: Self.t0 + 20_000)
        #expect(first.dedupPruned <= GraphLimits.dedupPrunedPerCommitMin)
        #expect(first.dedupPruned > GraphLimits.dedupPrunedPerCommitMin - StoreKeys.dedupRecordsPerEntryMax)
        // The last id arrived last, so it is not pruned yet: expired, stored anew.
        let late = try test.apply([Self.hit(UInt64(count), at: Self.t0)], receivedMs: Self.t0 + 20_000)
        #expect(late.events == 1 && late.dedupExpiredReplaced == 1)
        // That commit pruned the rest (its old entry among them): only the two live ids are left.
        #expect(first.dedupPruned + late.dedupPruned == count)
        #expect(try Self.dedupIDs(test) == 2)
        #expect(try test.apply([Self.hit(UInt64(count), at: Self.t0)], receivedMs: Self.t0 + 20_001).repeats == [0], "remembered from its new arrival")
        #expect(try GraphVerifier(graph: test.graph).verify().isSound)
    }

    @Test("random arrivals, event times and regroupings agree with a plain model of the window")
    func agreesWithModel() throws {
        var random = SeededGenerator.forTest("dedup window model")
        let seed = random.state
        let window: Int64 = 1_000
        let test = try TestGraph(configuration: GraphConfiguration(dedupWindowMs: window))
        var arrivals: [UInt64: Int64] = [:]  // id → arrival of its stored event
        var clock = Int64.min
        var now = Self.t0
        var stored = 0
        for _ in 0..<150 {
            now += Int64(random.next(below: 300))
            let batch = (0...random.next(below: 8)).map { _ in
                Self.hit(UInt64(1 + random.next(below: 40)), at: Self.t0 - Int64(random.next(below: 400)) * 86_400_000, site: 1 + UInt32(random.next(below: 2)))
            }
            var expected: [Int] = []
            for (index, beacon) in batch.enumerated() {
                let key = UInt64(beacon.site) << 32 | beacon.eventID
                clock = max(clock, now)
                if let arrival = arrivals[key], arrival >= clock - window {
                    expected.append(index)
                } else {
                    arrivals[key] = now
                    stored += 1
                }
            }
            let report = try test.apply(batch, receivedMs: now)
            #expect(report.repeats == expected, "seed \(seed)")
            let live = arrivals.values.filter { $0 >= clock - window }.count
            #expect(try Self.dedupIDs(test) == live, "seed \(seed): pruning keeps exactly the live ids while they are few")
        }
        #expect(try test.graph.totals().events == UInt64(stored), "seed \(seed)")
        #expect(try GraphVerifier(graph: test.graph).verify().isSound, "seed \(seed)")
    }

    @Test("erasing a person takes their ids out of the entries that hold them, whatever their place; the rest stay remembered")
    func erasureRemovesRecords() throws {
        let test = try TestGraph(configuration: GraphConfiguration(dedupWindowMs: 7 * 86_400_000))
        // 300 ids in one transaction (three entries); ids 7, 14, … carry cookie 0.
        let batch = (1...300).map { Self.hit(UInt64($0), at: Self.t0) }
        #expect(try test.apply(batch, receivedMs: Self.t0).events == 300)
        #expect(try Self.dedupEntries(test) == 3)
        let erased = batch.filter { $0.eventID % 7 == 0 }
        let erasure = try test.graph.forget(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .cookie, value: "cookie-dedup-0"), nowMs: Self.t0 + 1)
        #expect(erasure != nil)
        #expect(try Self.dedupIDs(test) == 300 - erased.count)
        let verification = try GraphVerifier(graph: test.graph).verify()
        #expect(verification.isSound, "\(verification.violations)")
        // The others are still repeats.
        let kept = batch.filter { $0.eventID % 7 != 0 }
        #expect(try test.apply(kept, receivedMs: Self.t0 + 2).repeats.count == kept.count)
    }

    @Test("a far-future event time moves nothing: the window runs on the server's arrival clock")
    func futureTimeIsHarmless() throws {
        let test = try TestGraph(configuration: GraphConfiguration(dedupWindowMs: 7 * 86_400_000))
        try test.apply([Self.hit(1, at: Self.t0)], receivedMs: Self.t0)
        try test.apply([Self.hit(2, at: 7_000_000_000_000)], receivedMs: Self.t0)  // year 2191
        #expect(try test.apply([Self.hit(1, at: Self.t0)], receivedMs: Self.t0).repeats == [0])
    }
}
