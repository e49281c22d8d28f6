@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchRandom
import StitchTesting
import Dispatch
import Synchronization
import Testing

/// The event index's write-behind (`IndexOverlay`): with small generations,
/// so that entries are deferred, frozen, written out a slice per commit and
/// their journal rows deleted many times over, a graph must read exactly as
/// one that writes every entry at once, and a restart must lose nothing.
@Suite("Index write-behind")
struct WriteBehindTests {
    /// Random visits of a few returning visitors: each beacon carries the
    /// visitor's cookie and the visit's session, some a phone (linking two
    /// visitors now and then), a few a hidden caller's call.
    struct Traffic {
        var random: SplitMix64
        var nextEventID: UInt64 = 1
        var clockMs: Int64 = 1_700_000_000_000
        var openVisits: [(cookie: Int, session: Int)] = []
        var nextSession = 0

        mutating func batch() -> [PreparedEvent] {
            (0..<1 + random.next(below: 40)).map { _ in event() }
        }

        mutating func event() -> PreparedEvent {
            if openVisits.count < 12 || random.next(below: 10) == 0 {
                nextSession += 1
                openVisits.append((random.next(below: 30), nextSession))
            }
            let visitIndex = random.next(below: openVisits.count)
            let visit = openVisits[visitIndex]
            if random.next(below: 15) == 0 { openVisits.remove(at: visitIndex) }
            var identifiers = [
                NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-\(visit.cookie)"),
                NormalizedIdentifier(uncheckedKind: .session, value: "s-\(visit.session)"),
            ]
            var type = EventType.hit
            if random.next(below: 20) == 0 {
                identifiers.append(NormalizedIdentifier(uncheckedKind: .phone, value: "+7900000\((1000 + random.next(below: 40)))"))
                type = .form
            }
            // Events arrive a little out of order, as beacons of open pages do.
            clockMs += Int64(random.next(below: 2_000))
            let timeMs = clockMs - Int64(random.next(below: 5_000))
            nextEventID += 1
            return PreparedEvent(
                site: 1, eventID: nextEventID, timeMs: timeMs, receivedMs: clockMs, type: type,
                identifiers: identifiers, body: [])
        }
    }

    /// `count` batches of seeded traffic, each with the apply time after it.
    static func seededBatches(_ name: String, count: Int) -> (seed: UInt64, batches: [([PreparedEvent], Int64)]) {
        let random = SeededGenerator.forTest(name)
        var traffic = Traffic(random: random)
        return (random.state, (0..<count).map { _ in (traffic.batch(), traffic.clockMs) })
    }

    static func graph(writeBehindEvents: Int) throws -> TestGraph {
        try TestGraph(configuration: GraphConfiguration(indexWriteBehindEvents: writeBehindEvents))
    }

    /// What a reader sees of a visitor: the person, and the whole history
    /// both ways, paged.
    static func view(_ graph: IdentityGraph, cookie: Int) throws -> String {
        let identifier = NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-\(cookie)")
        guard let person = try graph.lookup(site: 1, identifier: identifier, includeIdentifiers: true) else { return "none" }
        var text = "\(person.personID) \(person.eventCounts.sorted { $0.key.rawValue < $1.key.rawValue }) "
            + "\(person.firstSeenMs)…\(person.lastSeenMs) "
            + person.identifiers.map { "\($0.identifier.value)@\($0.firstSeenMs)…\($0.lastSeenMs)" }.joined(separator: ",")
        for newestFirst in [false, true] {
            var query = HistoryQuery(limit: 7, newestFirst: newestFirst)
            while true {
                let page = try #require(try graph.history(site: 1, personID: person.personID, query: query))
                text += " |" + page.events.map { "\($0.seq)" }.joined(separator: ",")
                guard let next = page.next else { break }
                query.cursor = next
            }
        }
        return text
    }

    /// Every table's entries, but the store's own identifier secret (each
    /// new store draws one; a cluster's replicas share the log's).
    static func contents(_ graph: IdentityGraph) throws -> [String: [[UInt8]]] {
        try graph.environment.read { txn in
            var contents: [String: [[UInt8]]] = [:]
            for name in StoreKeys.allTables {
                try txn.scan(graph.environment.table(name)) { key, value in
                    if name == StoreKeys.meta, Array(key) == IdentifierHasher.secretMetaKey { return true }
                    contents[name, default: []].append(Array(key) + [0xFF] + Array(value))
                    return true
                }
            }
            return contents
        }
    }

    @Test("a graph deferring its index reads as one that writes it at once, through freezes, slices, a batch too large to defer, restarts and repairs")
    func readsAsWrittenAtOnce() throws {
        let random = SeededGenerator.forTest("write-behind")
        let seed = random.state
        var traffic = Traffic(random: random)
        let direct = try Self.graph(writeBehindEvents: 0)
        let deferring = try Self.graph(writeBehindEvents: 60)
        var sawGeneration = false
        for round in 0..<120 {
            // One batch too large to defer: written at once, among deferred ones.
            let batch = round == 60
                ? (0...IndexWriteBehind.batchEventsMax).map { _ in traffic.event() } : traffic.batch()
            let nowMs = traffic.clockMs
            let a = try direct.graph.apply(batch, nowMs: nowMs)
            let b = try deferring.graph.apply(batch, nowMs: nowMs)
            #expect(a.events == b.events && a.merges == b.merges, "round \(round), seed \(seed)")
            let overlay = deferring.graph.writeBehind.latest()
            let journalRows = try deferring.graph.environment.read { txn in try txn.count(deferring.graph.tables.eventJournal) }
            if overlay.state.frozenStart > 0 && overlay.state.drained > 0 && journalRows > 0 { sawGeneration = true }
            if round % 10 == 9 {
                for cookie in 0..<30 {
                    #expect(try Self.view(direct.graph, cookie: cookie) == Self.view(deferring.graph, cookie: cookie),
                        "cookie \(cookie), round \(round), seed \(seed)")
                }
                let verification = try GraphVerifier(graph: deferring.graph).verify()
                #expect(verification.isSound, "\(verification.violations), seed \(seed)")
            }
            if round % 37 == 36 {
                let before = deferring.graph.writeBehind.latest()
                try deferring.reopen()
                let after = deferring.graph.writeBehind.latest()
                #expect(after.state == before.state && after.undrained() == before.undrained(), "seed \(seed)")
            }
        }
        #expect(sawGeneration, "generations froze and were written out from the journal (seed \(seed))")

        // A repair empties the write-behind first: every entry is in `event`.
        let cookie = NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-3")
        _ = try direct.graph.forget(site: 1, identifier: cookie, nowMs: traffic.clockMs)
        _ = try deferring.graph.forget(site: 1, identifier: cookie, nowMs: traffic.clockMs)
        #expect(deferring.graph.writeBehind.latest().isEmpty)
        #expect(try deferring.graph.environment.read { txn in try txn.count(deferring.graph.tables.eventJournal) } == 0)
        for cookie in 0..<30 {
            #expect(try Self.view(direct.graph, cookie: cookie) == Self.view(deferring.graph, cookie: cookie), "seed \(seed)")
        }
        for graph in [direct.graph, deferring.graph] {
            let verification = try GraphVerifier(graph: graph).verify()
            #expect(verification.isSound, "\(verification.violations), seed \(seed)")
        }
    }

    @Test("a restart rebuilds the write-behind exactly: a store reopened midway ends byte for byte as one that was not")
    func restartIsExact() throws {
        let (seed, batches) = Self.seededBatches("write-behind", count: 80)
        let steady = try Self.graph(writeBehindEvents: 45)
        let restarted = try Self.graph(writeBehindEvents: 45)
        for (index, (batch, nowMs)) in batches.enumerated() {
            try steady.graph.apply(batch, nowMs: nowMs)
            try restarted.graph.apply(batch, nowMs: nowMs)
            if index % 9 == 4 { try restarted.reopen() }
        }
        // (Either may be empty at the end: a phone tripping the shared-identifier
        // rule repairs persons, which writes out everything held first.)
        #expect(steady.graph.writeBehind.latest().state == restarted.graph.writeBehind.latest().state, "seed \(seed)")
    }

    /// Every visitor's event counts as `txn` sees them.
    static func counts(_ graph: IdentityGraph, _ txn: borrowing Transaction) throws -> [[EventType: UInt64]] {
        var counts: [[EventType: UInt64]] = []
        for cookie in 0..<30 {
            let identifier = NormalizedIdentifier(uncheckedKind: .cookie, value: "ck-\(cookie)")
            guard let root = try graph.resolve(site: 1, identifier: identifier, txn) else {
                counts.append([:])
                continue
            }
            counts.append(try graph.person(root: root, includeIdentifiers: false, txn).eventCounts)
        }
        return counts
    }

    @Test("a reader whose snapshot is a few commits old reads its own overlay from memory; an older one rebuilds it from its snapshot")
    func oldSnapshotsReadTheirOwnOverlay() throws {
        var traffic = Traffic(random: SplitMix64(seed: 11))
        let graph = try Self.graph(writeBehindEvents: 1_000_000)
        for _ in 0..<5 { try graph.graph.apply(traffic.batch(), nowMs: traffic.clockMs) }
        let g = graph.graph
        for commitsAfter in [IndexWriteBehind.publishedKept - 1, IndexWriteBehind.publishedKept + 4] {
            let rebuildsBefore = g.indexOverlayRebuilds
            try g.environment.read { txn in
                let before = try Self.counts(g, txn)
                // Commits land while the snapshot is open, as the writer thread's would
                // (read transactions are MDB_NOTLS: one thread may hold both).
                for _ in 0..<commitsAfter { try g.apply(traffic.batch(), nowMs: traffic.clockMs) }
                #expect(try Self.counts(g, txn) == before, "the snapshot's counts, \(commitsAfter) commits later")
            }
            let rebuilt = g.indexOverlayRebuilds - rebuildsBefore
            if commitsAfter < IndexWriteBehind.publishedKept {
                #expect(rebuilt == 0)
            } else {
                #expect(rebuilt > 0)
            }
        }
    }

    @Test("erasures on another thread, each writing out everything held, lose none of the entries applies defer beside them")
    func concurrentRepairsLoseNothing() throws {
        let (seed, batches) = Self.seededBatches("write-behind beside erasures", count: 150)
        let direct = try Self.graph(writeBehindEvents: 0)
        let deferring = try Self.graph(writeBehindEvents: 40)
        for (batch, nowMs) in batches { try direct.graph.apply(batch, nowMs: nowMs) }
        let graph = deferring.graph
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            do {
                if worker == 0 {
                    for (batch, nowMs) in batches { try graph.apply(batch, nowMs: nowMs) }
                } else {
                    // Each one writes out whatever is held, then finds no such visitor.
                    for n in 0..<300 {
                        _ = try graph.forget(
                            site: 1, identifier: NormalizedIdentifier(uncheckedKind: .cookie, value: "nobody-\(n)"), nowMs: 1)
                    }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let verification = try GraphVerifier(graph: graph).verify()
        #expect(verification.isSound, "\(verification.violations), seed \(seed)")
        for cookie in 0..<30 {
            #expect(try Self.view(direct.graph, cookie: cookie) == Self.view(graph, cookie: cookie), "seed \(seed)")
        }
    }

    @Test("the write-behind off writes no journal; turned on it holds entries; turned off again it writes them at open")
    func offWritesNoJournal() throws {
        var traffic = Traffic(random: SplitMix64(seed: 7))
        let graph = try Self.graph(writeBehindEvents: 0)
        for _ in 0..<20 { try graph.graph.apply(traffic.batch(), nowMs: traffic.clockMs) }
        #expect(try graph.graph.environment.read { txn in try txn.count(graph.graph.tables.eventJournal) } == 0)
        #expect(graph.graph.writeBehind.latest().isEmpty)
        let view = try Self.view(graph.graph, cookie: 1)
        try graph.reopen(configuration: GraphConfiguration(indexWriteBehindEvents: 10))
        let reopened = graph.graph
        for _ in 0..<20 { try reopened.apply(traffic.batch(), nowMs: traffic.clockMs) }
        #expect(try reopened.environment.read { txn in try txn.count(reopened.tables.eventJournal) } > 0)
        #expect(try GraphVerifier(graph: reopened).verify().isSound)
        let held = try Self.view(reopened, cookie: 1)
        #expect(held != view, "cookie 1 came back")

        // Turned off again: what it held goes to the index at open.
        try graph.reopen(configuration: GraphConfiguration(indexWriteBehindEvents: 0))
        #expect(graph.graph.writeBehind.latest().isEmpty)
        #expect(try graph.graph.environment.read { txn in try txn.count(graph.graph.tables.eventJournal) } == 0)
        #expect(try Self.view(graph.graph, cookie: 1) == held)
        #expect(try GraphVerifier(graph: graph.graph).verify().isSound)
    }
}
