import Foundation
import NIOCore
import StitchClient
import StitchTesting
import StitchWire
import Testing

/// The cluster under process failures, the way an operator meets them: a
/// real `ops/cluster.sh` cluster (3 JetStream servers, 2 stitch nodes of the
/// built binary, streams kept on all 3 servers), a client that resends every
/// batch it holds no ack for, and SIGKILL — of a stitch node, of the NATS
/// server leading a partition's stream, of everything. After each, every
/// acked beacon must be stored exactly once on both replicas, and the
/// replicas' content must be equal.
@Suite("Cluster under SIGKILL", .serialized)
struct ClusterFailureTests {
    static let beaconsPerBatch = 20

    /// The repository (for ops/cluster.sh).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One process of the cluster, as `cluster.sh` printed it.
    struct Member: Decodable {
        var role: String
        var name: String
        var pid: Int32
        var port: Int?
        var ingest: Int?
        var query: Int?
    }

    /// A cluster made by `ops/cluster.sh up`, stopped by `down`.
    final class LocalCluster {
        let directory: TemporaryDirectory
        var members: [String: Member] = [:]

        init() throws {
            directory = try TemporaryDirectory("stitch-cluster")
            let lines = try Self.script("up", directory.appending("c"), "--nodes", "2", "--shards", "2", "--replicas", "3",
                "--stitch", CLITests.binary.path, "--set", "event_loops=1", "--set", "map_bytes=67108864", "--set", "durability=nosync")
            for line in lines { try remember(line) }
        }

        private func remember(_ line: String) throws {
            let member = try JSONDecoder().decode(Member.self, from: Data(line.utf8))
            members[member.name] = member
        }

        /// Runs ops/cluster.sh; its JSON lines.
        @discardableResult
        static func script(_ arguments: String...) throws -> [String] {
            let run = try ChildProcess.run(
                "/bin/bash", arguments: [ClusterFailureTests.root.appendingPathComponent("ops/cluster.sh").path] + arguments)
            guard run.status == 0 else {
                throw CocoaError(.executableLoad, userInfo: [
                    NSLocalizedDescriptionKey: "cluster.sh \(arguments.joined(separator: " ")) failed: \(String(decoding: run.err, as: UTF8.self))",
                ])
            }
            return String(decoding: run.out, as: UTF8.self).split(separator: "\n").map(String.init).filter { $0.hasPrefix("{") }
        }

        var path: String { directory.appending("c") }

        func kill(_ name: String) throws { try Self.script("kill", path, name, "KILL") }

        func addNode(_ name: String, from holder: String) throws {
            for line in try Self.script("add-node", path, name, "--from", holder) { try remember(line) }
        }

        func start(_ name: String) throws {
            for line in try Self.script("start", path, name) { try remember(line) }
        }

        func leader(of partition: Int) throws -> String {
            let run = try ChildProcess.run(
                "/bin/bash", arguments: [ClusterFailureTests.root.appendingPathComponent("ops/cluster.sh").path, "leader", path, String(partition)])
            return String(decoding: run.out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func ingestPort(_ name: String) -> Int { members[name]!.ingest! }
        func queryPort(_ name: String) -> Int { members[name]!.query! }

        /// Each shard's digest of a node's store (`stitch verify --digest`).
        func digests(_ name: String) throws -> [String] {
            let run = try CLITests.stitch("verify", "--digest", "--data-dir", directory.appending("c/\(name)"))
            #expect(run.status == 0, "\(name): \(run.out) \(run.err)")
            return run.out.split(separator: "\n").filter { $0.hasPrefix("digest") }.map { String($0.split(separator: " (")[0]) }
        }

        func down() {
            _ = try? Self.script("down", path)
            directory.remove()
        }
    }

    /// Batch `number`: beacons with their own cookies and event ids, sites 1
    /// and 2 in turn (both partitions).
    static func batch(_ number: Int) -> [Stitch_V1_Beacon] {
        (0..<beaconsPerBatch).map { i in
            let id = number * beaconsPerBatch + i + 1
            return .with {
                $0.site = UInt32(1 + number % 2)
                $0.timeMs = 1_767_225_600_000 + Int64(id)
                $0.eventID = UInt64(id)
                $0.identifiers = [.with {
                    $0.kind = .cookie
                    $0.value = "cookie-cluster-\(id)"
                }]
                $0.hit = .with { $0.url = "https://a.example/\(id)" }
            }
        }
    }

    /// The client's view: what is acked, where in the log, what to resend.
    struct Ledger {
        var unacked: [Int] = []
        var nextBatch = 0
        var acked = 0
        var refused = 0
        var positions: [UInt32: UInt64] = [:]
        /// When each ack came, for the longest gap.
        var ackTimes: [ContinuousClock.Instant] = []
    }

    /// Resends what is unacked, then sends `newBatches` new ones to `port`,
    /// pipelined; returns once every reply settled.
    static func send(port: Int, ledger: inout Ledger, newBatches: Int) async {
        let toSend = ledger.unacked + Array(ledger.nextBatch..<(ledger.nextBatch + newBatches))
        ledger.nextBatch += newBatches
        ledger.unacked = []
        guard let ingest = try? await IngestClient.connect(host: "127.0.0.1", port: port) else {
            ledger.unacked = toSend
            return
        }
        var inFlight: [(number: Int, reply: EventLoopFuture<IngestReply>)] = []
        func settle(_ entry: (number: Int, reply: EventLoopFuture<IngestReply>), _ ledger: inout Ledger) async {
            if case .ack(let ack)? = try? await entry.reply.get() {
                #expect(ack.accepted == UInt32(beaconsPerBatch))
                ledger.acked += 1
                ledger.ackTimes.append(.now)
                for position in ack.logPositions {
                    ledger.positions[position.partition] = max(ledger.positions[position.partition] ?? 0, position.sequence)
                }
            } else {
                ledger.refused += 1
                ledger.unacked.append(entry.number)
            }
        }
        for (index, number) in toSend.enumerated() {
            inFlight.append((number, ingest.send(batch(number), sequence: UInt64(index + 1))))
            if inFlight.count >= 8 { await settle(inFlight.removeFirst(), &ledger) }
        }
        for entry in inFlight { await settle(entry, &ledger) }
        await ingest.close()
    }

    /// Sends until every batch so far is acked (bounded).
    static func resendUntilAcked(port: Int, ledger: inout Ledger) async {
        for _ in 0..<30 where !ledger.unacked.isEmpty {
            await send(port: port, ledger: &ledger, newBatches: 0)
            if !ledger.unacked.isEmpty { try? await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(ledger.unacked.isEmpty, "every batch is acked in the end")
    }

    /// Every acked beacon is on `node` exactly once: its event count is the
    /// beacons sent, and each beacon's cookie finds one event — read at the
    /// acks' log positions (read-your-writes), so no sleeping.
    static func expectEachStoredOnce(_ cluster: LocalCluster, node: String, ledger: Ledger) async throws {
        let query = try await QueryClient.connect(host: "127.0.0.1", port: cluster.queryPort(node))
        let total = ledger.nextBatch * beaconsPerBatch
        for site in UInt32(1)...2 {
            let partition = site % 2
            let position = Stitch_V1_LogPosition.with { $0.partition = partition; $0.sequence = ledger.positions[partition] ?? 0 }
            let ids = (1...total).filter { ($0 - 1) / beaconsPerBatch % 2 == Int(site) - 1 }
            for start in stride(from: 0, to: ids.count, by: 1000) {
                let chunk = ids[start..<min(ids.count, start + 1000)]
                let request = Stitch_V1_Request.OneOf_Kind.batchLookup(.with {
                    $0.site = site
                    $0.persons = chunk.map { id in .with { $0.identifier = .with { $0.kind = .cookie; $0.value = "cookie-cluster-\(id)" } } }
                })
                // UNAVAILABLE: the node has not applied that far within its
                // wait (it is catching up after a failure); a client retries.
                var answer = try await query.response(request, minPosition: position).get()
                let deadline = ContinuousClock.now + .seconds(60)
                while answer.error.code == .unavailable, ContinuousClock.now < deadline {
                    answer = try await query.response(request, minPosition: position).get()
                }
                #expect(answer.error.code == .unspecified, "\(node): \(answer.error.message)")
                guard case .batchLookup(let lookups) = answer.kind else { throw ClientError.protocolViolation("not a batch lookup: \(answer)") }
                let missing = zip(chunk, lookups.results).filter { !$0.1.found || $0.1.person.eventCount != 1 }.map(\.0)
                #expect(missing.isEmpty, "\(node): beacons not stored exactly once: \(missing.prefix(10))")
            }
        }
        let events = try await query.stats().events
        #expect(events == UInt64(total), "\(node): \(events) events stored for \(total) acked beacons")
        await query.close()
    }

    /// The longest time between two acks (the publish failover gap).
    static func longestGap(_ times: [ContinuousClock.Instant]) -> Duration {
        zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? .zero
    }

    @Test("SIGKILL a stitch node, the NATS stream leader, then everything: 0 acked beacons lost, none stored twice, replicas equal", .timeLimit(.minutes(5)))
    func killAndRecover() async throws {
        let cluster = try LocalCluster()
        defer { cluster.down() }
        var ledger = Ledger()

        // 1. SIGKILL stitch node s2 under load; s1 goes on taking beacons and
        //    answering for every site; s2 restarts and catches up.
        await Self.send(port: cluster.ingestPort("s1"), ledger: &ledger, newBatches: 40)
        try cluster.kill("s2")
        await Self.send(port: cluster.ingestPort("s1"), ledger: &ledger, newBatches: 60)
        await Self.resendUntilAcked(port: cluster.ingestPort("s1"), ledger: &ledger)
        let restarted = ContinuousClock.now
        try cluster.start("s2")
        try await Self.expectEachStoredOnce(cluster, node: "s2", ledger: ledger)
        let catchUp = ContinuousClock.now - restarted
        try await Self.expectEachStoredOnce(cluster, node: "s1", ledger: ledger)
        #expect(try cluster.digests("s1") == cluster.digests("s2"), "the restarted replica's content equals its peer's")
        // The CLI reads its writes by position too.
        let cli = try CLITests.stitch(
            "query", "lookup", "cookie", "cookie-cluster-1", "--site", "1", "--server", "127.0.0.1:\(cluster.queryPort("s2"))",
            "--min-position", "1:\(ledger.positions[1] ?? 0)")
        #expect(cli.status == 0, "\(cli.out) \(cli.err)")
        let ahead = try CLITests.stitch(
            "query", "lookup", "cookie", "cookie-cluster-1", "--site", "1", "--server", "127.0.0.1:\(cluster.queryPort("s2"))",
            "--min-position", "1:99999999")
        #expect(ahead.status == 1 && ahead.err.contains("unavailable"), "a position not reached: \(ahead.err)")
        print("cluster: s2 SIGKILLed and restarted: caught up \(60 * Self.beaconsPerBatch) beacons in \(catchUp) (start included)")

        // 2. SIGKILL the NATS server leading partition 1's stream while s1
        //    publishes; the stream elects a new leader, publishes resume.
        let leader = try cluster.leader(of: 1)
        #expect(["n1", "n2", "n3"].contains(leader), "cluster.sh leader names the stream's leader: \(leader)")
        let before = ledger.ackTimes.count
        let port = cluster.ingestPort("s1")
        let sending = Task { [ledger] in
            var ledger = ledger
            await Self.send(port: port, ledger: &ledger, newBatches: 400)
            return ledger
        }
        try await Task.sleep(for: .milliseconds(300))
        let killedAt = ContinuousClock.now
        try cluster.kill(leader)
        ledger = await sending.value
        await Self.resendUntilAcked(port: cluster.ingestPort("s1"), ledger: &ledger)
        let gap = Self.longestGap(Array(ledger.ackTimes[before...]))
        print("cluster: NATS leader \(leader) SIGKILLed, all resent \(ContinuousClock.now - killedAt) later; longest time without an ack (failover gap): \(gap); \(ledger.refused) batches refused STORE_UNAVAILABLE and resent")
        try cluster.start(leader)
        try await Self.expectEachStoredOnce(cluster, node: "s1", ledger: ledger)
        try await Self.expectEachStoredOnce(cluster, node: "s2", ledger: ledger)

        // 3. SIGKILL everything, start everything: nothing acked is lost.
        for name in ["s1", "s2", "n1", "n2", "n3"] { try cluster.kill(name) }
        for name in ["n1", "n2", "n3", "s1", "s2"] { try cluster.start(name) }
        await Self.send(port: cluster.ingestPort("s2"), ledger: &ledger, newBatches: 20)
        await Self.resendUntilAcked(port: cluster.ingestPort("s2"), ledger: &ledger)
        try await Self.expectEachStoredOnce(cluster, node: "s1", ledger: ledger)
        try await Self.expectEachStoredOnce(cluster, node: "s2", ledger: ledger)
        #expect(try cluster.digests("s1") == cluster.digests("s2"), "equal content after everything was SIGKILLed")

        // 4. A new replica from a holder's backup resumes the log from the
        //    backup's recorded position and ends equal.
        try cluster.addNode("s3", from: "s1")
        await Self.send(port: cluster.ingestPort("s3"), ledger: &ledger, newBatches: 20)
        await Self.resendUntilAcked(port: cluster.ingestPort("s3"), ledger: &ledger)
        for node in ["s1", "s2", "s3"] { try await Self.expectEachStoredOnce(cluster, node: node, ledger: ledger) }
        #expect(try cluster.digests("s3") == cluster.digests("s1"), "the added replica holds what its peers hold")
    }
}
