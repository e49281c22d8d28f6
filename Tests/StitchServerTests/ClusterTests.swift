import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOSSL
import StitchClient
import StitchRandom
@testable import StitchServer
import StitchTesting
import StitchWire
import Testing

/// Cluster mode against a real nats-server with JetStream on loopback: two
/// Stitch nodes in this process, each applying the same partition streams
/// into its own store.
@Suite("Cluster", .serialized)
struct ClusterTests {
    static let shards = 2

    /// A cluster node: a TestServer with the cluster settings.
    static func node(
        _ name: String, nats: NATSCluster, directory: TemporaryDirectory? = nil, applyEntriesMax: Int = 64,
        partitions: [Int] = [], clock: NIOLockedValueBox<Int64>? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        try await TestServer(directory: directory, clock: clock) {
            $0.shards = shards
            $0.clusterNATSURLs = nats.urls
            $0.clusterNode = name
            $0.clusterReplicas = 1
            $0.clusterApplyEntriesMax = applyEntriesMax
            $0.clusterPartitions = partitions
            $0.clusterReadWaitMs = 5000
            $0.durability = .nosync
            // Shared phones trip the shared-identifier rule: automatic
            // quarantines, whose records carry the apply's clock.
            $0.hubLinksMax = 3
            configure(&$0)
        }
    }

    /// Seeded traffic over four sites (both partitions): visitors whose
    /// cookies and sessions meet phones shared by a few, so persons merge,
    /// guards refuse links and the shared-identifier rule quarantines.
    static func traffic(seed: UInt64, batches: Int, startMs: Int64) -> [[Stitch_V1_Beacon]] {
        var random = SplitMix64(seed: seed)
        var eventID: UInt64 = seed << 32
        return (0..<batches).map { batch in
            (0..<40).map { index in
                eventID += 1
                let site = UInt32(1 + random.next() % 4)
                let visitor = random.next() % 150
                let timeMs = startMs + Int64(batch * 1000 + index * 10)
                var beacon: Stitch_V1_Beacon
                if random.next() % 4 == 0 {
                    beacon = Beacons.form(site: site, timeMs: timeMs, cookie: "visitor-cookie-\(visitor)", phone: "+7 916 555-\(String(format: "%04d", random.next() % 40))")
                    // Each visitor's own e-mail makes persons distinguishable.
                    beacon.form.email = "visitor\(visitor)@mail.ru"
                } else {
                    beacon = Beacons.hit(site: site, timeMs: timeMs, cookie: "visitor-cookie-\(visitor)", session: "session-\(visitor)-\(batch / 8)-of-visitor")
                }
                beacon.eventID = eventID
                return beacon
            }
        }
    }

    /// Sends every batch and returns the acks' highest position per partition.
    static func send(_ batches: [[Stitch_V1_Beacon]], to node: TestServer, firstSequence: UInt64 = 1) async throws -> [UInt32: UInt64] {
        let ingest = try await node.ingestClient()
        defer { Task { await ingest.close() } }
        var positions: [UInt32: UInt64] = [:]
        for (offset, batch) in batches.enumerated() {
            let reply = try await ingest.send(batch, sequence: firstSequence + UInt64(offset)).get()
            let ack = try #require(reply.ack, "batch \(offset) was refused: \(String(describing: reply.refusal))")
            #expect(ack.accepted == UInt32(batch.count))
            #expect(!ack.logPositions.isEmpty, "a cluster ack says where the batch is in the log")
            for position in ack.logPositions { positions[position.partition] = max(positions[position.partition] ?? 0, position.sequence) }
        }
        return positions
    }

    /// Waits until `node` has applied every partition through `positions`.
    static func caughtUp(_ node: TestServer, _ positions: [UInt32: UInt64]) async throws {
        try await eventually("the node applied the log through \(positions)", seconds: 30) {
            let applied = node.server.appliedLogSequences
            return positions.allSatisfy { (applied[Int($0.key)] ?? 0) >= $0.value }
        }
    }

    @Test("two nodes apply one log into equal stores, however they group it; a restarted node catches up", .timeLimit(.minutes(3)))
    func replicasEndEqual() async throws {
        var seeds = SeededGenerator.forTest("cluster-replicas")
        let seed = seeds.next() >> 33
        let nats = try NATSCluster()
        defer { nats.stop() }
        // A applies 64 entries per transaction, B one: the same content.
        let a = try await Self.node("a", nats: nats)
        let directoryB = try TemporaryDirectory("stitch-cluster-b")
        var b = try await Self.node("b", nats: nats, directory: directoryB, applyEntriesMax: 1)
        let startMs: Int64 = 1_780_000_000_000
        let first = Self.traffic(seed: seed, batches: 24, startMs: startMs)
        // Batches go to both nodes' collectors; some are sent twice (repeats).
        var positions = try await Self.send(Array(first[0..<12]), to: a)
        let fromB = try await Self.send(Array(first[12...]) + Array(first[3..<6]), to: b, firstSequence: 100)
        positions.merge(fromB) { max($0, $1) }

        // Read-your-writes: B answers a lookup once it has applied A's batch.
        let query = try await b.queryClient()
        let lastBatchOfA = first[11]
        let site = lastBatchOfA[0].site
        let cookie = lastBatchOfA[0].identifiers[0].value
        let partition = UInt32(Int(site) % Self.shards)
        let found = try await query.lookup(
            site: site, kind: .cookie, value: cookie,
            minPosition: .with { $0.partition = partition; $0.sequence = positions[partition]! })
        #expect(found.found, "B sees what A acked once it reached the ack's position")
        // A position far ahead is answered UNAVAILABLE after the wait, not hung.
        let ahead = try await query.response(
            .lookup(.with { $0.site = site; $0.person.identifier = Beacons.identifier(.cookie, cookie) }),
            minPosition: .with { $0.partition = partition; $0.sequence = 1_000_000 }).get()
        #expect(ahead.error.code == .unavailable)
        await query.close()

        try await Self.caughtUp(a, positions)
        try await Self.caughtUp(b, positions)
        let digestsA = try #require(try a.server.shardDigests())
        #expect(try b.server.shardDigests() == digestsA, "seed \(seed): replicas that applied one log hold the same content")

        // B stops; A goes on taking traffic; B restarts and catches up.
        await b.stop()
        let second = Self.traffic(seed: seed + 1, batches: 12, startMs: startMs + 60_000)
        positions.merge(try await Self.send(second, to: a, firstSequence: 200)) { max($0, $1) }
        b = try await Self.node("b", nats: nats, directory: directoryB, applyEntriesMax: 7)
        try await Self.caughtUp(a, positions)
        try await Self.caughtUp(b, positions)
        #expect(try b.server.shardDigests() == a.server.shardDigests(), "seed \(seed): the restarted replica caught up to equal content")
        await a.stopAndRemove()
        await b.stopAndRemove()
    }

    @Test("admin changes go through the log: every replica quarantines, erases and sets pools at the same point", .timeLimit(.minutes(3)))
    func adminChangesReplicate() async throws {
        var seeds = SeededGenerator.forTest("cluster-admin")
        let seed = seeds.next() >> 33
        let nats = try NATSCluster()
        defer { nats.stop() }
        let a = try await Self.node("a", nats: nats)
        let b = try await Self.node("b", nats: nats, applyEntriesMax: 3)
        let batches = Self.traffic(seed: seed, batches: 10, startMs: 1_780_000_000_000)
        var positions = try await Self.send(batches, to: a)
        // A form of site 1 names a phone and an e-mail: quarantine the phone
        // on A, forget the e-mail's person on B, set site 2's pool on A. The
        // phone is one no other form names: a phone several visitors typed
        // may already be quarantined by the shared-identifier rule, and then
        // quarantining it changes nothing (seed 8972720479620611129 did that).
        let forms = batches.joined().filter { $0.site == 1 && !$0.form.phone.isEmpty }
        let form = try #require(forms.first { form in forms.count { $0.form.phone == form.form.phone } == 1 })
        let queryA = try await a.queryClient()
        let queryB = try await b.queryClient()
        let partition1 = UInt32(1 % Self.shards)
        let seen = Stitch_V1_LogPosition.with { $0.partition = partition1; $0.sequence = positions[partition1] ?? 0 }
        _ = try await queryB.lookup(site: 1, kind: .email, value: form.form.email, minPosition: seen)
        let quarantined = try await queryA.quarantine(site: 1, identifier: Beacons.identifier(.phone, form.form.phone), reason: "shared office phone")
        #expect(quarantined.changed)
        let erased = try await queryB.forget(site: 1, identifier: Beacons.identifier(.email, form.form.email))
        #expect(erased.identifiers > 0 && erased.events > 0, "the replica that asked answers with what it erased")
        let pool = try await queryA.setPool(site: 2, .with {
            $0.dynamicNumbers = ["+74950000001", "+74950000002"]
            $0.holdSeconds = 600
        })
        #expect(pool.pool.dynamicNumbers.count == 2)
        // Unknown identifiers are the same refusal everywhere.
        await #expect(throws: (any Error).self) {
            _ = try await queryB.unquarantine(site: 1, identifier: Beacons.identifier(.phone, "+7 999 000-00-00"))
        }
        // More traffic after the changes, then both replicas hold the same.
        positions.merge(try await Self.send(Self.traffic(seed: seed + 7, batches: 4, startMs: 1_780_000_100_000), to: b, firstSequence: 50)) { max($0, $1) }
        let last = try await queryA.lookup(site: 1, kind: .email, value: form.form.email, minPosition: .with {
            $0.partition = partition1
            $0.sequence = positions[partition1] ?? 0
        })
        #expect(!last.found, "A erased the person B was asked to forget")
        #expect(try await queryB.pool(site: 2).pool.dynamicNumbers.count == 2, "B has the pool A was given")
        try await Self.caughtUp(a, positions)
        try await Self.caughtUp(b, positions)
        #expect(try a.server.shardDigests() == b.server.shardDigests(), "seed \(seed): equal content after admin changes")
        await queryA.close()
        await queryB.close()
        await a.stopAndRemove()
        await b.stopAndRemove()
    }

    @Test("retention through the log: one node puts each erasure in it, every replica erases the same persons", .timeLimit(.minutes(3)))
    func retentionReplicates() async throws {
        var seeds = SeededGenerator.forTest("cluster-retention")
        let seed = seeds.next() >> 33
        let nats = try NATSCluster()
        defer { nats.stop() }
        let startMs: Int64 = 1_780_000_000_000
        let clock = NIOLockedValueBox<Int64>(startMs)
        let retention = { (configuration: inout ServerConfiguration) in
            configuration.retentionDays = [1: 30]
            configuration.retentionPassIntervalMs = 3_600_000  // the test runs the passes
        }
        let a = try await Self.node("a", nats: nats, clock: clock, configure: retention)
        let b = try await Self.node("b", nats: nats, applyEntriesMax: 3, clock: clock, configure: retention)
        let batches = Self.traffic(seed: seed, batches: 6, startMs: startMs)
        let positions = try await Self.send(batches, to: a)
        try await Self.caughtUp(a, positions)
        try await Self.caughtUp(b, positions)
        let site1 = try #require(batches.joined().first { $0.site == 1 && !$0.form.email.isEmpty })
        let site2 = try #require(batches.joined().first { $0.site == 2 && !$0.form.email.isEmpty })

        clock.withLockedValue { $0 += 31 * 86_400_000 }
        var runs: [RetentionPass.Run] = []
        try await eventually("the lease node of partition 1 swept it", seconds: 30) {
            runs += [await a.retentionPass(), await b.retentionPass()].compactMap { $0 }
            return runs.contains { $0.erased > 0 }
        }
        #expect(runs.allSatisfy { $0.failed == 0 }, "\(runs)")
        #expect(!runs.contains { $0.erased > 0 && $0.nodesRead == 0 })
        try await eventually("both replicas applied the erasures", seconds: 30) {
            try a.server.shardDigests() == b.server.shardDigests()
        }
        for node in [a, b] {
            let query = try await node.queryClient()
            #expect(try await query.lookup(site: 1, kind: .email, value: site1.form.email).found == false, "seed \(seed)")
            #expect(try await query.lookup(site: 2, kind: .email, value: site2.form.email).found, "site 2 keeps everything")
            let feed = try await query.mergesSince(site: 1, cursor: 0, limit: 10_000)
            #expect(feed.merges.contains { $0.kind == .erase && $0.reason == .retention })
            await query.close()
        }
        await a.stopAndRemove()
        await b.stopAndRemove()
    }

    @Test("with TLS on every port and client certificates, nodes forward queries and leases to each other over TLS", .timeLimit(.minutes(2)))
    func forwardingOverTLS() async throws {
        let nats = try NATSCluster()
        defer { nats.stop() }
        let directory = try TemporaryDirectory("stitch-cluster-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let tls = { (configuration: inout ServerConfiguration) in
            configuration.tlsCertificateFile = certificates.path("node")
            configuration.tlsKeyFile = certificates.path("node", key: true)
            configuration.tlsClientCAFile = certificates.ca
            configuration.clusterPeerCAFile = certificates.ca
        }
        let a = try await Self.node("a", nats: nats, configure: tls)
        // c holds partition 0 only (sites 2, 4): it forwards site 1 and 3 to a.
        let c = try await Self.node("c", nats: nats, partitions: [0], configure: tls)
        let clientTLS = TLSClientSettings(
            caFile: certificates.ca, certificateFile: certificates.path("client"), keyFile: certificates.path("client", key: true))
        let ingest = try await IngestClient.connect(host: "127.0.0.1", port: c.ports.ingest, tls: clientTLS)
        var beacon = Beacons.hit(site: 1, timeMs: 1_780_000_000_000, cookie: "cookie-tls-forward-1", session: "session-tls-forward-1")
        beacon.eventID = 1
        let ack = try #require(try await ingest.send([beacon], sequence: 1).get().ack)
        await ingest.close()
        let position = try #require(ack.logPositions.first { $0.partition == 1 })
        let queryC = try await QueryClient.connect(host: "127.0.0.1", port: c.ports.query, tls: clientTLS)
        try await eventually("c knows a as the holder of partition 1", seconds: 10) {
            (try? await queryC.lookup(site: 1, kind: .cookie, value: "cookie-tls-forward-1", minPosition: position).found) == true
        }
        // A lease of site 1 asked at c's intake (HTTPS) is granted by a, partition 1's lease node.
        let queryA = try await QueryClient.connect(host: "127.0.0.1", port: a.ports.query, tls: clientTLS)
        _ = try await queryA.setPool(site: 1, .with { $0.dynamicNumbers = ["+74950000011"]; $0.holdSeconds = 900 })
        var https = TLSConfiguration.makeClientConfiguration()
        https.trustRoots = .file(certificates.ca)
        let web = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: https))
        var hit = Beacons.hit(site: 1, timeMs: Int64(Date().timeIntervalSince1970 * 1000), cookie: "cookie-tls-lease-1", session: "session-tls-lease-0001")
        hit.eventID = 2
        let seenIngest = try await IngestClient.connect(host: "127.0.0.1", port: c.ports.ingest, tls: clientTLS)
        let seen = try #require(try await seenIngest.send([hit], sequence: 2).get().ack?.logPositions.first { $0.partition == 1 })
        await seenIngest.close()
        _ = try await queryA.lookup(site: 1, kind: .session, value: "session-tls-lease-0001", minPosition: seen)
        let response = try await web.execute(
            HTTPClientRequest(url: "https://localhost:\(c.ports.intake)/v1/lease?site=1&session=session-tls-lease-0001"), timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
        #expect(response.status.code == 200 && body.contains("+74950000011"), "\(body)")
        try await web.shutdown()
        await queryA.close()
        await queryC.close()
        await a.stopAndRemove()
        await c.stopAndRemove()
    }

    @Test("any node answers: a site held elsewhere is forwarded to a holder, a lease to its partition's lease node", .timeLimit(.minutes(2)))
    func queriesFromAnyNode() async throws {
        let nats = try NATSCluster()
        defer { nats.stop() }
        let a = try await Self.node("a", nats: nats)
        let b = try await Self.node("b", nats: nats)
        // c holds partition 0 only (sites 2, 4): it forwards site 1 and 3.
        // Its dedup window differs: the others see a member with other settings.
        let c = try await Self.node("c", nats: nats, partitions: [0]) { $0.dedupWindowMs = 3_600_000 }
        let positions = try await Self.send(Self.traffic(seed: 11, batches: 4, startMs: 1_780_000_000_000), to: c)
        let beacon = try #require(Self.traffic(seed: 11, batches: 4, startMs: 1_780_000_000_000).joined().first { $0.site == 1 })
        let queryC = try await c.queryClient()
        let found = try await queryC.lookup(
            site: 1, kind: .cookie, value: beacon.identifiers[0].value,
            minPosition: .with { $0.partition = 1; $0.sequence = positions[1]! })
        #expect(found.found, "c does not hold site 1's partition; a holder answered for it")
        // The JSON API takes the same path: c forwards it too.
        let overHTTP = try await QueryAPITests.call(
            "/api/v1/sites/1/person?kind=cookie&value=\(beacon.identifiers[0].value)&min_position=1:\(positions[1]!)", port: c.ports.http)
        #expect(overHTTP.status == 200, "\(overHTTP.json)")
        #expect(overHTTP.object["person_id"] as? Int == Int(found.person.personID))
        #expect(c.server.appliedLogSequences.keys.sorted() == [0], "c applies only what it holds")

        // Leases of partition 0 are granted by its first live holder by
        // name, a: a number b hands out is held in a's allocator.
        let queryA = try await a.queryClient()
        let queryB = try await b.queryClient()
        _ = try await queryA.setPool(site: 2, .with {
            $0.dynamicNumbers = ["+74950000001", "+74950000002", "+74950000003"]
            $0.holdSeconds = 900
        })
        try await eventually("b has a's pool", seconds: 10) {
            (try? await queryB.pool(site: 2).pool.dynamicNumbers.count) == 3
        }
        let viaB = try await queryB.lease(site: 2, session: "session-lease-on-b-0001")
        let viaA = try await queryA.lease(site: 2, session: "session-lease-on-a-0002")
        #expect(viaB.kind == .new && viaA.kind == .new)
        #expect(viaB.trackingNumber != viaA.trackingNumber, "one allocator for the partition: two sessions never get one number")
        let again = try await queryC.lease(site: 2, session: "session-lease-on-b-0001")
        #expect(again.trackingNumber == viaB.trackingNumber, "the lease is sticky whichever node is asked")
        let againOverHTTP = try await QueryAPITests.call(
            "/api/v1/sites/2/lease", method: .POST, port: c.ports.http, body: ["session": "session-lease-on-b-0001"])
        #expect(againOverHTTP.object["tracking_number"] as? String == viaB.trackingNumber, "the JSON API's lease goes to the lease node")
        // The tracker's GET /v1/lease on b is answered by a's allocator too.
        var hit = Beacons.hit(site: 2, timeMs: Int64(Date().timeIntervalSince1970 * 1000), cookie: "cookie-http-lease-1", session: "session-http-lease-0003")
        hit.eventID = 77
        let seen = try await Self.send([[hit]], to: b, firstSequence: 900)
        _ = try await queryA.lookup(site: 2, kind: .session, value: "session-http-lease-0003", minPosition: .with { $0.partition = 0; $0.sequence = seen[0]! })
        let http = try await MetricsEndpointTests.rawGetOffPool("/v1/lease?site=2&session=session-http-lease-0003", port: b.ports.intake)
        #expect(http.status == 200, "\(String(decoding: http.body, as: UTF8.self))")
        let granted = try JSONSerialization.jsonObject(with: Data(http.body)) as? [String: Any]
        #expect(granted?["kind"] as? String == "new")
        let number = granted?["tracking_number"] as? String
        #expect(number != nil && number != viaA.trackingNumber && number != viaB.trackingNumber)
        let sticky = try await queryA.lease(site: 2, session: "session-http-lease-0003")
        #expect(sticky.trackingNumber == number, "a's allocator holds the number b's intake handed out")
        try await eventually("a counts one member with other settings", seconds: 10) {
            ResourceBoundsTests.gauge(a, "stitch_cluster_settings_mismatch") == 1
        }
        #expect(ResourceBoundsTests.gauge(c, "stitch_cluster_settings_mismatch") == 2)
        for client in [queryA, queryB, queryC] { await client.close() }
        for node in [a, b, c] { await node.stopAndRemove() }
    }

    /// One step of the property test's script.
    enum Step {
        case batch(node: Int, beacons: [Stitch_V1_Beacon])
        case quarantine(node: Int, phone: String)
        case forget(node: Int, email: String)
        case pool(node: Int, site: UInt32, numbers: [String])
        case lease(node: Int, site: UInt32, session: String)
        case renewal(node: Int, site: UInt32, session: String, number: String)
    }

    /// A seeded script mixing beacons (visits, forms with shared phones,
    /// numbers shown, calls), quarantines, forgets, pool changes, leases and
    /// renewals, each sent to a random node.
    static func script(_ random: inout SplitMix64, steps: Int, startMs: Int64) -> [Step] {
        var eventID: UInt64 = random.next() >> 20
        let numbers = (1...6).map { "+7495111000\($0)" }
        return (0..<steps).map { step in
            let node = Int(random.next() % 2)
            let site = UInt32(1 + random.next() % 2)
            let visitor = random.next() % 60
            let session = "session-\(visitor)-of-property-visitor"
            let timeMs = startMs + Int64(step) * 2000
            switch random.next() % 20 {
            case 0: return .quarantine(node: node, phone: "+7 916 777-00-\(String(format: "%02d", random.next() % 12))")
            case 1: return .forget(node: node, email: "visitor\(visitor)@mail.ru")
            case 2: return .pool(node: node, site: site, numbers: Array(numbers.prefix(2 + Int(random.next() % 4))))
            case 3, 4: return .lease(node: node, site: site, session: session)
            case 5: return .renewal(node: node, site: site, session: session, number: numbers[Int(random.next() % 6)])
            default:
                return .batch(node: node, beacons: (0..<(1 + Int(random.next() % 30))).map { index in
                    eventID += 1
                    let cookie = "visitor-cookie-\(random.next() % 60)"
                    var beacon: Stitch_V1_Beacon
                    switch random.next() % 6 {
                    case 0:
                        beacon = Beacons.form(site: site, timeMs: timeMs + Int64(index), cookie: cookie, phone: "+7 916 777-00-\(String(format: "%02d", random.next() % 12))")
                        beacon.form.email = "visitor\(visitor)@mail.ru"
                    case 1:
                        beacon = Beacons.hit(site: site, timeMs: timeMs + Int64(index), cookie: cookie, session: session)
                        beacon.numberShown = .with { $0.trackingNumber = numbers[Int(random.next() % 6)] }
                    case 2:
                        beacon = .with {
                            $0.site = site
                            $0.timeMs = timeMs + Int64(index)
                            $0.call = .with {
                                $0.callID = "call-\(eventID)"
                                $0.callerPhone = random.next() % 3 == 0 ? "" : "+7 916 777-00-\(String(format: "%02d", random.next() % 12))"
                                $0.trackingNumber = numbers[Int(random.next() % 6)]
                                $0.durationS = UInt32(random.next() % 300)
                            }
                        }
                    default:
                        beacon = Beacons.hit(site: site, timeMs: timeMs + Int64(index), cookie: cookie, session: session)
                    }
                    // Some ids repeat: resends are repeats on every replica alike.
                    beacon.eventID = random.next() % 10 == 0 ? eventID - 1 : eventID
                    return beacon
                })
            }
        }
    }

    @Test("property: a seeded mix of beacons, quarantines, forgets, pools, leases and renewals sent to either node leaves both replicas byte-equal", .timeLimit(.minutes(3)))
    func seededMixReplicatesExactly() async throws {
        var random = SeededGenerator.forTest("cluster-property")
        let seed = random.state
        let nats = try NATSCluster()
        defer { nats.stop() }
        let nodes = [try await Self.node("a", nats: nats, applyEntriesMax: 1 + Int(random.next() % 64)),
                     try await Self.node("b", nats: nats, applyEntriesMax: 1 + Int(random.next() % 8))]
        var queries: [QueryClient] = []
        for node in nodes { queries.append(try await node.queryClient()) }
        var positions: [UInt32: UInt64] = [:]
        var sequence: UInt64 = 1
        for step in Self.script(&random, steps: 160, startMs: 1_780_000_000_000) {
            switch step {
            case .batch(let node, let beacons):
                positions.merge(try await Self.send([beacons], to: nodes[node], firstSequence: sequence)) { max($0, $1) }
                sequence += 1
            case .quarantine(let node, let phone):
                _ = try? await queries[node].quarantine(site: 1, identifier: Beacons.identifier(.phone, phone), reason: "property")
            case .forget(let node, let email):
                _ = try? await queries[node].forget(site: 1, identifier: Beacons.identifier(.email, email))
            case .pool(let node, let site, let numbers):
                _ = try await queries[node].setPool(site: site, .with {
                    $0.dynamicNumbers = numbers
                    $0.holdSeconds = 600
                })
            case .lease(let node, let site, let session):
                _ = try? await queries[node].lease(site: site, session: session)
            case .renewal(let node, let site, let session, let number):
                var renewal = Stitch_V1_Beacon.with {
                    $0.site = site
                    $0.timeMs = 1_780_000_000_000 + Int64(sequence) * 2000
                    $0.identifiers = [Beacons.identifier(.session, session)]
                    $0.leaseRenewal = .with { $0.trackingNumber = number }
                }
                renewal.eventID = 0
                positions.merge(try await Self.send([[renewal]], to: nodes[node], firstSequence: sequence)) { max($0, $1) }
                sequence += 1
            }
        }
        // The admin changes were published after the last batch's position:
        // a last batch to each partition marks the end of the script.
        let marks = (1...2).map { site in Beacons.hit(site: UInt32(site), timeMs: 1_780_100_000_000, cookie: "visitor-cookie-end-\(site)", session: "session-end-of-property-\(site)") }
        positions.merge(try await Self.send([marks], to: nodes[0], firstSequence: sequence)) { max($0, $1) }
        for node in nodes { try await Self.caughtUp(node, positions) }
        let digests = try nodes.map { try #require(try $0.server.shardDigests()) }
        #expect(digests[0] == digests[1], "seed \(seed): replicas differ after the mixed script")
        for query in queries { await query.close() }
        for node in nodes { await node.stopAndRemove() }
    }

    @Test("a replica restarted between a session's hits and its late number_shown matches the later call as its peer does", .timeLimit(.minutes(2)))
    func activityBeforeTheNumberSurvivesARestart() async throws {
        let nats = try NATSCluster()
        defer { nats.stop() }
        let a = try await Self.node("a", nats: nats)
        let directoryB = try TemporaryDirectory("stitch-cluster-b")
        var b = try await Self.node("b", nats: nats, directory: directoryB)
        let queryA = try await a.queryClient()
        _ = try await queryA.setPool(site: 2, .with {
            $0.dynamicNumbers = ["+74950000011", "+74950000012"]
            $0.holdSeconds = 900
        })
        let t0: Int64 = 1_780_000_000_000
        let session = "session-reading-long-0001"
        // 20 minutes of hits (the page stays open), applied before the
        // number_shown they follow, which another connection sends late.
        let hits = (0..<5).map { minute in
            var hit = Beacons.hit(site: 2, timeMs: t0 + Int64(minute) * 300_000, cookie: "cookie-reading-long-1", session: session)
            hit.eventID = UInt64(500 + minute)
            return hit
        }
        var positions = try await Self.send([hits], to: a)
        try await Self.caughtUp(b, positions)
        await b.stop()
        b = try await Self.node("b", nats: nats, directory: directoryB)
        var shown = Beacons.hit(site: 2, timeMs: t0, cookie: "cookie-reading-long-1", session: session)
        shown.eventID = 600
        shown.numberShown = .with { $0.trackingNumber = "+74950000011" }
        // A hidden caller 30 minutes in: past shown + hold, within the last hit + hold.
        let call = Stitch_V1_Beacon.with {
            $0.site = 2
            $0.timeMs = t0 + 30 * 60_000
            $0.eventID = 601
            $0.call = .with {
                $0.callID = "call-reading-long-1"
                $0.trackingNumber = "+74950000011"
                $0.durationS = 90
            }
        }
        positions.merge(try await Self.send([[shown], [call]], to: b, firstSequence: 10)) { max($0, $1) }
        try await Self.caughtUp(a, positions)
        try await Self.caughtUp(b, positions)
        #expect(try a.server.shardDigests() == b.server.shardDigests(), "the restarted replica matched the call as its peer did")
        let history = try await queryA.history(.with {
            $0.site = 2
            $0.person.identifier = Beacons.identifier(.session, session)
        })
        #expect(history.events.contains { if case .call = $0.beacon.body { true } else { false } }, "the call is the reader's")
        await queryA.close()
        await a.stopAndRemove()
        await b.stopAndRemove()
    }
}
