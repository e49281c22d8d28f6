import Foundation
import NIOCore
import StitchClient
import StitchTesting
import StitchWire
import Testing

/// Effectively-exactly-once ingest, proved the hard way: a real `stitch serve`
/// is SIGKILLed at random moments while a client pipelines batches and, after
/// each restart, resends every batch it holds no ack for. Batches the server
/// committed but could not acknowledge come back as repeats. At the end every
/// beacon must be stored exactly once. `STITCH_KILL_CYCLES` sets the number of
/// kills (20 by default, as CI runs it; `ops/kill-test.sh` runs more).
@Suite("Exactly once under SIGKILL")
struct ExactlyOnceKillTests {
    static let beaconsPerBatch = 20

    /// Batch `number`'s beacons: each with its own cookie and event id, at
    /// `time(id)` (by default a millisecond apart, in id order).
    static func batch(_ number: Int, time: (Int) -> Int64 = { 1_767_225_600_000 + Int64($0) }) -> [Stitch_V1_Beacon] {
        (0..<beaconsPerBatch).map { i in
            let id = number * beaconsPerBatch + i + 1
            return .with {
                $0.site = 1
                $0.timeMs = time(id)
                $0.eventID = UInt64(id)
                $0.identifiers = [.with {
                    $0.kind = .cookie
                    $0.value = "cookie-once-\(id)"
                }]
                $0.hit = .with { $0.url = "https://a.example/\(id)" }
            }
        }
    }

    /// What the client knows of its batches.
    struct Ledger {
        var unacked: [Int] = []
        var nextBatch = 0
        var acks = 0
        var resent = 0
        var repeatsReported = 0
        /// The last log position each partition's acks named (`ack_after =
        /// log`: what a reader waits for to see every acked beacon).
        var lastPositions: [UInt32: UInt64] = [:]
    }

    /// Runs one client session against a server that may be killed at any
    /// moment: resend the unacked batches, then send `newBatches` new ones,
    /// pipelined; returns once every reply has settled (acked or failed).
    static func runOnce(
        port: Int, ledger: inout Ledger, newBatches: Int, batch: (Int) -> [Stitch_V1_Beacon] = { Self.batch($0) }
    ) async {
        ledger.resent += ledger.unacked.count
        let toSend = ledger.unacked + Array(ledger.nextBatch..<(ledger.nextBatch + newBatches))
        ledger.nextBatch += newBatches
        ledger.unacked = []
        guard let ingest = try? await IngestClient.connect(host: "127.0.0.1", port: port) else {
            ledger.unacked = toSend  // killed before we got in
            return
        }
        var inFlight: [(number: Int, reply: EventLoopFuture<IngestReply>)] = []
        for (index, number) in toSend.enumerated() {
            inFlight.append((number, ingest.send(batch(number), sequence: UInt64(index + 1))))
            if inFlight.count >= 8 { await settle(inFlight.removeFirst(), &ledger) }
        }
        for entry in inFlight { await settle(entry, &ledger) }
        await ingest.close()
    }

    static func settle(_ entry: (number: Int, reply: EventLoopFuture<IngestReply>), _ ledger: inout Ledger) async {
        if case .ack(let ack)? = try? await entry.reply.get() {
            #expect(ack.rejected == 0)
            #expect(ack.accepted + ack.repeated == UInt32(beaconsPerBatch))
            ledger.acks += 1
            ledger.repeatsReported += Int(ack.repeated)
            for position in ack.logPositions {
                ledger.lastPositions[position.partition] = max(ledger.lastPositions[position.partition] ?? 0, position.sequence)
            }
        } else {
            ledger.unacked.append(entry.number)
        }
    }

    /// In `log` mode an ack means the group is in the group log, and the
    /// store behind it commits without a flush: a kill between the log's
    /// flush and the store's commit leaves a record the next start replays.
    /// `log-first` is `log` with `ack_after = log`: acks run ahead of the
    /// store, and a kill leaves acked records only the log holds.
    @Test("SIGKILL at random moments, resend everything unacked: every beacon is stored exactly once", arguments: ["sync", "log", "log-first"])
    func everyBeaconOnce(durability: String) async throws {
        let cycles = ProcessInfo.processInfo.environment["STITCH_KILL_CYCLES"].flatMap(Int.init) ?? 20
        var random = SeededGenerator.forTest("exactly once under SIGKILL (\(durability))")
        let seed = random.state
        let directory = try TemporaryDirectory("stitch-once")
        defer { directory.remove() }
        // Checkpoints often, so kills land during them too.
        let arguments = durability == "log-first"
            ? ["--durability", "log", "--set", "ack_after=log", "--set", "sync_interval_ms=50"]
            : ["--durability", durability, "--set", "sync_interval_ms=50"]
        var ledger = Ledger()
        for _ in 0..<cycles {
            let serve = try ServeProcessTests.ServeProcess(directory: directory, extraArguments: arguments)
            let pid = serve.pid
            let delayMs = Int(random.next() % 200)
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delayMs)) { kill(pid, SIGKILL) }
            await Self.runOnce(port: serve.ports["ingest"]!, ledger: &ledger, newBatches: 60)
            serve.child.wait()
        }
        // A last life without a kill: resend until nothing is unacked.
        let serve = try ServeProcessTests.ServeProcess(directory: directory, extraArguments: arguments)
        try await Self.settleAndCheck(serve, ledger: &ledger, cycles: cycles, seed: seed)
    }

    /// The last life, without a kill: resends until nothing is unacked,
    /// checks every beacon is stored once, stops the server and runs
    /// `stitch verify` on its store.
    static func settleAndCheck(
        _ serve: ServeProcessTests.ServeProcess, ledger: inout Ledger, cycles: Int, seed: UInt64
    ) async throws {
        var rounds = 0
        repeat {
            await Self.runOnce(port: serve.ports["ingest"]!, ledger: &ledger, newBatches: 0)
            rounds += 1
        } while !ledger.unacked.isEmpty && rounds < 5
        #expect(ledger.unacked.isEmpty, "seed \(seed): every batch is acked in the end")

        try await Self.expectEachStoredOnce(serve, ledger: ledger, cycles: cycles, seed: seed)
        #expect(serve.signal(SIGTERM) == 0)
        let verify = try CLITests.stitch("verify", "--data-dir", serve.directory.appending("data"))
        #expect(verify.status == 0, "\(verify.out)")
    }

    @Test("a shuffled 60-day world sent twice, SIGKILLed during the second send: every event is stored once")
    func backfillSentTwice() async throws {
        let cycles = ProcessInfo.processInfo.environment["STITCH_KILL_CYCLES"].flatMap(Int.init).map { max(1, $0 / 2) } ?? 10
        var random = SeededGenerator.forTest("a 60-day world sent twice under SIGKILL")
        let seed = random.state
        let batches = 300
        // Event times spread over 60 days in random order: a re-import or a
        // backfill, which a window of event time would mostly not remember.
        var times = (0..<batches * Self.beaconsPerBatch).map { _ in 1_767_225_600_000 - Int64(random.next(below: 60 * 86_400)) * 1000 }
        times.shuffle(using: &random)
        let world: (Int) -> [Stitch_V1_Beacon] = { number in Self.batch(number) { times[$0 - 1] } }
        let directory = try TemporaryDirectory("stitch-once-60d")
        defer { directory.remove() }

        // First send, no kill: all of it, acked.
        var first = Ledger()
        let serve = try ServeProcessTests.ServeProcess(directory: directory)
        await Self.runOnce(port: serve.ports["ingest"]!, ledger: &first, newBatches: batches, batch: world)
        #expect(first.unacked.isEmpty && first.repeatsReported == 0, "seed \(seed)")
        #expect(serve.signal(SIGTERM) == 0)

        // Second send of the same world, killed at random moments; the
        // sender resends whatever it holds no ack for after each restart.
        var second = Ledger()
        let perLife = batches / cycles + 1
        for _ in 0..<cycles {
            let serve = try ServeProcessTests.ServeProcess(directory: directory)
            let pid = serve.pid
            let delayMs = Int(random.next() % 200)
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delayMs)) { kill(pid, SIGKILL) }
            await Self.runOnce(port: serve.ports["ingest"]!, ledger: &second, newBatches: min(perLife, batches - second.nextBatch), batch: world)
            serve.child.wait()
        }
        let last = try ServeProcessTests.ServeProcess(directory: directory)
        var rounds = 0
        repeat {
            await Self.runOnce(port: last.ports["ingest"]!, ledger: &second, newBatches: batches - second.nextBatch, batch: world)
            rounds += 1
        } while !second.unacked.isEmpty && rounds < 5
        #expect(second.unacked.isEmpty && second.nextBatch == batches, "seed \(seed): every batch is acked in the end")
        print("60-day world sent twice: \(batches * Self.beaconsPerBatch) beacons, second send \(cycles) SIGKILLs, \(second.resent) batches resent, \(second.repeatsReported) beacons answered as repeats (seed \(seed))")
        #expect(second.repeatsReported == batches * Self.beaconsPerBatch, "seed \(seed): the whole second send is repeats")
        try await Self.expectEachStoredOnce(last, ledger: second, cycles: cycles, seed: seed)
        #expect(last.signal(SIGTERM) == 0)
        let verify = try CLITests.stitch("verify", "--data-dir", directory.appending("data"))
        #expect(verify.status == 0, "\(verify.out)")
    }

    /// Every beacon of the ledger's batches is stored exactly once: the event
    /// count equals the beacons sent, and each beacon's own cookie finds a
    /// person with one event.
    static func expectEachStoredOnce(_ serve: ServeProcessTests.ServeProcess, ledger: Ledger, cycles: Int, seed: UInt64) async throws {
        let total = ledger.nextBatch * Self.beaconsPerBatch
        let query = try await QueryClient.connect(host: "127.0.0.1", port: serve.ports["query"]!)
        // Acks that ran ahead of the store (`ack_after = log`): wait until it holds them.
        for (partition, sequence) in ledger.lastPositions {
            _ = try await query.lookup(site: 1, kind: .cookie, value: "cookie-once-1", minPosition: .with {
                $0.partition = partition
                $0.sequence = sequence
            })
        }
        let events = try await query.stats().events
        print("exactly once: \(cycles) SIGKILLs, \(total) beacons in \(ledger.nextBatch) batches, \(ledger.resent) batches resent, \(ledger.repeatsReported) beacons reported as repeats, \(events) stored (seed \(seed))")
        #expect(events == UInt64(total), "seed \(seed): \(events) events stored for \(total) beacons")
        // Each beacon is found (its own cookie); with the count equal, each is there exactly once.
        for start in stride(from: 1, through: total, by: 1000) {
            let ids = start...min(total, start + 999)
            let answer = try await query.request(.batchLookup(.with {
                $0.site = 1
                $0.persons = ids.map { id in .with { $0.identifier = .with { $0.kind = .cookie; $0.value = "cookie-once-\(id)" } } }
            }))
            guard case .batchLookup(let lookups) = answer else { throw ClientError.protocolViolation("not a batch lookup") }
            let missing = zip(ids, lookups.results).filter { !$0.1.found || $0.1.person.eventCount != 1 }.map(\.0)
            #expect(missing.isEmpty, "seed \(seed): beacons not stored exactly once: \(missing.prefix(10))")
        }
        await query.close()
    }
}
