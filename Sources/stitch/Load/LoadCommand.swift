import ArgumentParser
import Foundation
import NIOCore
import StitchClient
import StitchLoad
import StitchServer
import StitchWire

/// `stitch load`: drives a running server with synthetic beacons (and
/// optionally lookups) and reports throughput, ack latency and loss.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Drive a running Stitch server with synthetic traffic and report throughput and latency.",
        discussion: """
            TCP: every batch is acknowledged after its group commit; the ack latency \
            is measured from when the batch was due to be sent (open loop with \
            --rate, so a slow server cannot hide its queueing). UDP: the loss is \
            beacons sent minus beacons the server accepted (from its stats, so \
            --query-port must reach it with an admin or loopback token).

            Examples:
              stitch load --transport tcp --rate 100000 --duration 20
              stitch load --transport udp --rate 100000 --duration 20
              stitch load --rate 50000 --query-rate 20000 --duration 20
              stitch load --rate 50000 --query-rate 5000 --query-kind lease --duration 20
              stitch load --verify

            World traffic and lease queries declare the sites' number pools first \
            (`pool_set`, so the query token must be an admin's or the server \
            loopback-only); --no-pools leaves the server's pools as they are.
            """
    )

    @Option(help: "Server host.")
    var host = "127.0.0.1"

    @Option(help: "Collector port (UDP and TCP).")
    var port = 7070

    @Option(help: "Query port, for --query-rate and the server's counters.")
    var queryPort = 7071

    @Option(help: "Query token.")
    var token = ""

    @Option(help: "tcp (acked) or udp (fire and forget).")
    var transport = "tcp"

    @Option(help: "Beacons per second in all; 0 = as fast as acks allow (TCP only).")
    var rate = 0

    @Option(help: "Seconds to send.")
    var duration = 10.0

    @Option(help: "Connections (TCP) or sockets (UDP).")
    var connections = 4

    @Option(help: "Beacons per batch (frame).")
    var batch = 50

    @Option(help: "Unacknowledged batches per TCP connection, at most.")
    var window = 256

    @Flag(help: "Send frames uncompressed.")
    var noCompress = false

    @Option(help: "Sites in the synthetic traffic.")
    var sites = 4

    @Option(help: "Visitors per site.")
    var persons = 100_000

    @Option(help: "Random seed of the traffic.")
    var seed: UInt64 = 1

    @Option(help: "Queries per second alongside ingest (0 = none).")
    var queryRate = 0

    @Option(help: "lookup: lookups with every 10th a history page; lease: lease requests (call tracking).")
    var queryKind = "lookup"

    @Flag(help: "Do not declare number pools before the run.")
    var noPools = false

    @Option(help: "simple: endless visit-shaped stream (throughput); world: the seeded world with ground truth, sent once.")
    var traffic = "simple"

    @Option(help: "Persons per site in the world.")
    var worldPersons = 2000

    @Option(help: "Percent of multi-device persons' devices never signed in on (unlinkable by anyone).")
    var anonymousDevices = 0

    @Flag(help: "After the run, score the server's stitching against the world's truth and check every acked beacon is in its person's history (implies --traffic world, TCP). Exit 1 if any is missing.")
    var verify = false

    var usesWorld: Bool { verify || traffic == "world" }

    /// Unpaced runs prepare frames for at most this rate × duration (simple traffic).
    private var unpacedRateMax: Int { 200_000 }

    func validate() throws {
        guard ["tcp", "udp"].contains(transport) else { throw ValidationError("--transport is tcp or udp") }
        guard ["simple", "world"].contains(traffic) else { throw ValidationError("--traffic is simple or world") }
        guard ["lookup", "lease"].contains(queryKind) else { throw ValidationError("--query-kind is lookup or lease") }
        guard !verify || transport == "tcp" else { throw ValidationError("--verify needs acks: use --transport tcp") }
        guard transport == "tcp" || rate > 0 else { throw ValidationError("UDP needs a --rate") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch is 1...4096") }
        guard connections >= 1, window >= 1, duration > 0 else { throw ValidationError("positive values, please") }
    }

    func run() async throws {
        let recorder = LoadRecorder()
        let statsClient = try? await QueryClient.connect(host: host, port: queryPort, token: token, clientName: "stitch-load")
        if !noPools && (usesWorld || (queryRate > 0 && queryKind == "lease")) {
            try await declarePools(statsClient)
        }
        let before = try? await statsClient?.stats()
        print("stitch load: \(transport) to \(host):\(port), \(rate == 0 ? "unpaced" : "\(rate) beacons/s"), \(duration) s, \(connections) connections, batches of \(batch)\(noCompress ? " (plain)" : " (zlib)"), \(sites) sites × \(persons) visitors, seed \(seed)")
        let world = usesWorld ? WorldPlan(world: World(worldParameters), batch: batch, connections: connections) : nil
        let frames = try await withThrowingTaskGroup(of: (Int, [ByteBuffer]).self) { group in
            for index in 0..<connections {
                group.addTask { (index, try world?.frames(connection: index, compressed: !noCompress) ?? prepareFrames(index: index)) }
            }
            var frames = Array(repeating: [ByteBuffer](), count: connections)
            for try await (index, prepared) in group { frames[index] = prepared }
            return frames
        }
        if let world { print("world: \(world.world.events.count) events of \(sites) sites × \(worldPersons) persons, seed \(seed); sent once, in time order") }
        let frameBytes = frames.joined().reduce(0) { $0 + $1.readableBytes }
        print("prepared \(frames.joined().count) frames (\(frameBytes / batch / max(1, frames.joined().count)) bytes per beacon on the wire) before starting the clock")
        let lookups = queryRate > 0 ? try prepareLookups() : []
        let start = ContinuousClock.now
        // A world is sent whole, however long it takes.
        let deadline = start + (world == nil ? .seconds(duration) : .seconds(86_400))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withThrowingTaskGroup(of: Void.self) { senders in
                    for index in 0..<connections {
                        senders.addTask {
                            if transport == "tcp" {
                                try await sendTCP(index: index, frames: frames[index], start: start, deadline: deadline, recorder: recorder)
                            } else {
                                try await sendUDP(index: index, frames: frames[index], start: start, deadline: deadline, recorder: recorder)
                            }
                        }
                    }
                    try await senders.waitForAll()
                }
                recorder.update { $0.sendersDone = true }
            }
            if queryRate > 0 {
                group.addTask { try await runQueries(frames: lookups, start: start, deadline: deadline, recorder: recorder) }
            }
            group.addTask { await reportProgress(start: start, deadline: deadline, recorder: recorder) }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        var after = try? await statsClient?.stats()
        if transport == "udp", let statsClient {
            after = await settledStats(statsClient, last: after)
        }
        report(recorder.totals, elapsed: elapsed, before: before, after: after)
        if verify, let world {
            guard let statsClient else {
                printToStandardError("stitch load: --verify needs the query port \(queryPort)")
                throw ExitCode.failure
            }
            let outcome = try await WorldVerification(plan: world, acks: recorder.totals.worldAcks, client: statsClient).run()
            await statsClient.close()
            outcome.print(stats: after)
            if outcome.missing > 0 { throw ExitCode.failure }
        } else {
            await statsClient?.close()
        }
    }

    /// Number pools for the run: the world's own (its numbers, fallback and
    /// office phone), or for lease queries 500 numbers per site.
    private func declarePools(_ client: QueryClient?) async throws {
        guard let client else {
            printToStandardError("stitch load: cannot declare number pools: no query server on port \(queryPort) (or use --no-pools)")
            throw ExitCode.failure
        }
        for site in 1...UInt32(max(1, sites)) {
            let pool = usesWorld ? World.pool(site: site) : Self.leasePool(site: site)
            do {
                _ = try await client.setPool(site: site, pool)
            } catch {
                printToStandardError("stitch load: pool_set for site \(site) refused: \(error) (an admin token is needed; or use --no-pools)")
                throw ExitCode.failure
            }
        }
        print("declared the number pools of sites 1...\(sites) (pool_set)")
    }

    static func leasePool(site: UInt32) -> Stitch_V1_NumberPool {
        .with {
            $0.dynamicNumbers = (0..<500).map { "+7 495 5\(String(format: "%02d", Int(site) % 100))-\(String(format: "%02d-%02d", $0 / 100, $0 % 100))" }
            $0.fallbackNumber = "+7 495 5\(String(format: "%02d", Int(site) % 100))-99-99"
        }
    }

    var worldParameters: World.Parameters {
        var parameters = World.Parameters()
        parameters.seed = seed
        parameters.sites = sites
        parameters.personsPerSite = worldPersons
        parameters.anonymousDevicePercent = anonymousDevices
        return parameters
    }

    // MARK: Senders

    /// The frames one connection will send, encoded before the clock starts
    /// so that the generator's own CPU (building beacons, protobuf, zlib)
    /// does not compete with the server on a shared machine.
    private func prepareFrames(index: Int) throws -> [ByteBuffer] {
        let perSecond = rate > 0 ? rate : unpacedRateMax
        let batches = Int((Double(perSecond) * duration / Double(batch * connections)).rounded(.up)) + 1
        var traffic = SimpleTraffic(seed: seed &+ UInt64(index), sites: sites, persons: persons, startMs: 1_767_225_600_000)
        let encoder = FrameEncoder()
        var frames: [ByteBuffer] = []
        frames.reserveCapacity(batches)
        for sequence in 1...batches {
            let beacons = Stitch_V1_BeaconBatch.with { $0.beacons = (0..<batch).map { _ in traffic.next() } }
            var buffer = ByteBufferAllocator().buffer(capacity: 64 * batch)
            try encoder.encode(beacons, type: .batch, sequence: UInt64(sequence), compressed: !noCompress, into: &buffer)
            frames.append(buffer)
        }
        return frames
    }

    private func sendTCP(index: Int, frames: [ByteBuffer], start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder) async throws {
        let client = try await IngestClient.connect(host: host, port: port)
        let interval: Duration? = rate > 0 ? .seconds(Double(batch * connections) / Double(rate)) : nil
        var due = start
        var inFlight: [EventLoopFuture<Void>] = []
        let recordAcks = usesWorld
        for (offset, frame) in frames.enumerated() {
            guard ContinuousClock.now < deadline else { break }
            if interval != nil {
                if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            } else {
                due = ContinuousClock.now
            }
            // Acks come in commit order, which on one connection is send order:
            // waiting for the oldest keeps at most `window` batches unanswered.
            if inFlight.count >= window {
                _ = try? await inFlight.removeFirst().get()
            }
            let sentAt = due
            let future = client.sendFrame(frame, sequence: UInt64(offset + 1)).map { reply in
                let micros = UInt64(max(0, (ContinuousClock.now - sentAt).seconds * 1_000_000))
                recorder.update { totals in
                    switch reply {
                    case .ack(let ack):
                        totals.beaconsAcked += Int(ack.accepted)
                        totals.beaconsRejected += Int(ack.rejected)
                        _ = totals.ackMicros.record(micros)
                        if recordAcks {
                            totals.worldAcks[BatchKey(connection: index, offset: offset)] = Set(ack.rejections.map { Int($0.index) })
                        }
                    case .refused(let error):
                        totals.batchesRefused += 1
                        totals.lastFailure = "\(error.code): \(error.message)"
                    }
                }
            }
            future.whenFailure { error in
                recorder.update {
                    $0.failures += 1
                    $0.lastFailure = "\(error)"
                }
            }
            inFlight.append(future)
            recorder.update {
                $0.beaconsSent += batch
                $0.batchesSent += 1
            }
            if let interval { due += interval }
        }
        for future in inFlight { _ = try? await future.get() }
        await client.close()
    }

    private func sendUDP(index: Int, frames: [ByteBuffer], start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder) async throws {
        let sender = try await UDPSender.connect(host: host, port: port)
        let interval = Duration.seconds(Double(batch * connections) / Double(rate))
        var due = start
        var next = 0
        while ContinuousClock.now < deadline && next < frames.count {
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            // Catch up in one burst when the sleep overslept several intervals.
            var sent = 0
            while due <= ContinuousClock.now && sent < 64 && next < frames.count {
                _ = sender.sendDatagram(frames[next])
                next += 1
                sent += 1
                due += interval
            }
            recorder.update {
                $0.beaconsSent += sent * batch
                $0.batchesSent += sent
            }
        }
        await sender.close()
    }

    /// Query frames for the whole run, encoded before the clock starts: nine
    /// lookups, then a history page (20 events) of a visitor, and again.
    private func prepareLookups() throws -> [ByteBuffer] {
        let count = Int((Double(queryRate) * duration).rounded(.up)) + 1
        var traffic = SimpleTraffic(seed: seed &+ 1000, sites: sites, persons: persons, startMs: 0)
        let encoder = FrameEncoder()
        return try (1...count).map { id in
            let (site, cookie) = traffic.someCookie()
            let person = Stitch_V1_PersonRef.with {
                $0.identifier = .with {
                    $0.kind = .cookie
                    $0.value = cookie
                }
            }
            let request = Stitch_V1_Request.with {
                $0.requestID = UInt64(id)
                if queryKind == "lease" {
                    $0.lease = .with {
                        $0.site = site
                        $0.session = .with {
                            $0.kind = .session
                            $0.value = "ls-" + cookie
                        }
                    }
                } else if LookupDriver.isHistory(id: id) {
                    $0.history = .with {
                        $0.site = site
                        $0.person = person
                        $0.limit = 20
                        $0.newestFirst = true
                    }
                } else {
                    $0.lookup = .with {
                        $0.site = site
                        $0.person = person
                    }
                }
            }
            var buffer = ByteBufferAllocator().buffer(capacity: 64)
            try encoder.encode(request, type: .request, sequence: UInt64(id), into: &buffer)
            return buffer
        }
    }

    private func runQueries(
        frames: [ByteBuffer], start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder
    ) async throws {
        let driver = try await LookupDriver.connect(
            host: host, port: queryPort, token: token, requests: frames.count, historyEveryTenth: queryKind == "lookup")
        let intervalNanos = 1e9 / Double(queryRate)
        // The same instant on both clocks: NIO's uptime clock stamps answers.
        let startNanos = NIODeadline.now().uptimeNanoseconds - UInt64((ContinuousClock.now - start).seconds * 1e9)
        var next = 0
        while ContinuousClock.now < deadline && next < frames.count {
            let due = start + .nanoseconds(Int64(Double(next) * intervalNanos))
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            // Every request now due goes out in one burst (one hop, one flush);
            // each one's latency still counts from when it was due.
            let elapsed = (ContinuousClock.now - start).seconds * 1e9
            let last = min(frames.count, Int(elapsed / intervalNanos) + 1)
            guard last > next else { continue }
            let dueNanos = (next..<last).map { startNanos + UInt64(Double($0) * intervalNanos) }
            driver.send(frames[next..<last], firstID: next + 1, dueNanos: dueNanos)
            recorder.update { $0.queriesSent += last - next }
            next = last
        }
        try await Task.sleep(for: .milliseconds(300))
        let results = try await driver.results()
        recorder.update {
            $0.queryMicros = results.lookupMicros
            $0.historyMicros = results.historyMicros
            $0.queries = results.answered
            $0.queryErrors = results.errors
        }
        await driver.close()
    }

    // MARK: Reporting

    private func reportProgress(start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder) async {
        var last = recorder.totals
        while ContinuousClock.now < deadline && !recorder.totals.sendersDone {
            try? await Task.sleep(for: .seconds(1))
            let now = recorder.totals
            let second = Int((ContinuousClock.now - start).seconds.rounded())
            var line = "[\(second)s] sent \(now.beaconsSent - last.beaconsSent)/s"
            if transport == "tcp" {
                line += " acked \(now.beaconsAcked - last.beaconsAcked)/s, errors \(now.failures + now.batchesRefused)"
            }
            if queryRate > 0 { line += ", \(queryKind)s sent \(now.queriesSent - last.queriesSent)/s" }
            print(line)
            last = now
        }
    }

    /// Waits until the server has committed (or refused or dropped) every
    /// beacon it received: then `accepted` is final for this run.
    private func settledStats(_ client: QueryClient, last: Stitch_V1_StatsResponse?) async -> Stitch_V1_StatsResponse? {
        var latest = last
        for _ in 0..<150 {
            if let stats = latest {
                if stats.total(.beaconsAccepted) + stats.total(.beaconsRejected) + stats.total(.udpDroppedBeacons)
                    == stats.total(.beaconsReceived)
                {
                    return stats
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
            latest = (try? await client.stats()) ?? latest
        }
        return latest
    }

    private func accepted(_ stats: Stitch_V1_StatsResponse) -> UInt64 {
        stats.total(.beaconsAccepted)
    }

    private func report(_ totals: LoadRecorder.Totals, elapsed: Double, before: Stitch_V1_StatsResponse?, after: Stitch_V1_StatsResponse?) {
        print("")
        print("sent      \(totals.beaconsSent) beacons in \(totals.batchesSent) batches over \(String(format: "%.1f", elapsed)) s = \(Int(Double(totals.beaconsSent) / elapsed)) beacons/s")
        if transport == "tcp" {
            print("acked     \(totals.beaconsAcked) beacons = \(Int(Double(totals.beaconsAcked) / elapsed)) beacons/s; rejected \(totals.beaconsRejected), refused batches \(totals.batchesRefused), failures \(totals.failures)")
            print("ack latency  \(totals.ackMicros.summaryMs)")
        }
        if let before, let after {
            let acceptedDelta = accepted(after) &- accepted(before)
            print("server    accepted \(acceptedDelta) beacons during the run; persons \(after.persons), identifiers \(after.identifiers), events \(after.events), merges \(after.merges)")
            if transport == "udp" {
                let lost = max(0, totals.beaconsSent - Int(acceptedDelta))
                let dropped = after.total(.udpDroppedBeacons) &- before.total(.udpDroppedBeacons)
                print("udp loss  \(lost) of \(totals.beaconsSent) = \(String(format: "%.4f", 100 * Double(lost) / Double(max(1, totals.beaconsSent))))% (server queue drops \(dropped); the rest never reached the socket)")
            }
        } else if transport == "udp" {
            print("udp loss  unknown: could not read the server's stats on port \(queryPort)")
        }
        if queryRate > 0 {
            print("queries   \(totals.queries) answered, \(totals.queryErrors) with an error (a history of a visitor not seen yet is NOT_FOUND)")
            if queryKind == "lease" {
                print("leases    latency \(totals.queryMicros.summaryMs)")
            } else {
                print("lookups   latency \(totals.queryMicros.summaryMs)")
                print("history   (20 newest events, every 10th query) latency \(totals.historyMicros.summaryMs)")
            }
        }
        if let failure = totals.lastFailure { print("last failure: \(failure)") }
    }
}

extension Duration {
    /// This duration in seconds, as a Double.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
