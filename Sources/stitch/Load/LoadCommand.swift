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

    @Option(help: "tcp: acked batches; udp: fire and forget.")
    var transport = Transport.tcp

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

    @Flag(help: "Name simple traffic's sessions as the tracker does (24 random hex digits) instead of by a counter, whose names sort in order and so flatter the store's writes.")
    var randomSessionIds = false

    @Flag(help: "Send simple traffic without event ids (no dedup work on the server), to measure what dedup costs.")
    var noEventIds = false

    @Option(help: "Sites in the synthetic traffic.")
    var sites = 4

    @Option(help: "The first site's number (simple traffic): sites are first-site … first-site + sites − 1.")
    var firstSite: UInt32 = 1

    @Option(help: "Visitors per site.")
    var persons = 100_000

    @Option(help: "Random seed of the traffic.")
    var seed: UInt64 = 1

    @Option(help: "Queries per second alongside ingest (0 = none), open loop: each request at its own time, latency from when it was due.")
    var queryRate = 0

    @OptionGroup var tls: TLSOptions

    @Option(help: "lookup: lookups, every 10th a history page; lease: lease requests (call tracking).")
    var queryKind = QueryKind.lookup

    @Flag(help: "Do not declare number pools before the run.")
    var noPools = false

    @Option(help: "simple: an endless visit-shaped stream (throughput); world: the seeded world with ground truth, sent once.")
    var traffic = Traffic.simple

    @Option(help: "Persons per site in the world.")
    var worldPersons = 2000

    @Option(help: "Percent of multi-device persons' devices never signed in on (unlinkable by anyone).")
    var anonymousDevices = 0

    @Option(help: "Percent of the world's persons who are repeat customers on weekly-reset cookies (Safari): 6–10 visits days apart, a new cookie each, their phone or e-mail on most.")
    var weeklyCookies = 0

    @Option(help: "Percent of the world's persons who also visit once from their site's in-store kiosk (one browser for all: the same cookie, _ga and _ym_uid), leaving their phone there.")
    var kiosks = 0

    @Option(help: "Percent of the world's forms carrying a salesperson's e-mail instead of the visitor's.")
    var salespersonEmails = 0

    @Option(help: "Percent of the world's callers who read the page longer than the hold (16–46 min) before calling; the open page renews its lease (lease_renewal beacons) every third of the hold.")
    var reading = 0

    @Flag(help: "The world's tracker does not renew open pages' leases (as before renewals): a reader's number lapses and goes to the next visitor while still on the reader's screen.")
    var noRenewals = false

    @Flag(help: "After the run, score the server's stitching against the world's truth and check every acked beacon is in its person's history (implies --traffic world, TCP). Exit 1 if any is missing.")
    var verify = false

    @Flag(help: "With --verify and --no-pools: after scoring, declare the pools (each site's office phone becomes junk, so it is quarantined and its persons repaired at once), time that, and score again.")
    var declareAfter = false

    var usesWorld: Bool { verify || traffic == .world }

    /// Unpaced runs prepare frames for at most this rate × duration (simple traffic).
    static let unpacedRateMax = 200_000

    func validate() throws {
        guard !verify || transport == .tcp else { throw ValidationError("--verify needs acks: use --transport tcp") }
        guard !declareAfter || (verify && noPools) else { throw ValidationError("--declare-after goes with --verify --no-pools") }
        guard transport == .tcp || rate > 0 else { throw ValidationError("UDP needs a --rate") }
        guard tls.settings == nil || (transport == .tcp && queryRate == 0) else {
            throw ValidationError("with TLS, use --transport tcp and no --query-rate (UDP and the open-loop query driver are plaintext)")
        }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch is 1...4096") }
        guard connections >= 1, window >= 1, duration > 0 else { throw ValidationError("positive values, please") }
        guard [anonymousDevices, weeklyCookies, kiosks, salespersonEmails].allSatisfy({ (0...100).contains($0) }) else {
            throw ValidationError("--anonymous-devices, --weekly-cookies, --kiosks and --salesperson-emails are percents: 0...100")
        }
    }

    func run() async throws {
        let recorder = LoadRecorder()
        let statsClient = try? await QueryClient.connect(host: host, port: queryPort, token: token, clientName: "stitch-load", tls: tls.settings)
        if !noPools && (usesWorld || (queryRate > 0 && queryKind == .lease)) {
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
                            if transport == .tcp {
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
        if transport == .udp, let statsClient {
            after = await settledStats(statsClient, last: after)
        }
        report(recorder.totals, elapsed: elapsed, before: before, after: after)
        if verify, let world {
            guard let statsClient else {
                printToStandardError("stitch load: --verify needs the query port \(queryPort)")
                throw ExitCode.failure
            }
            let outcome = try await WorldVerification(plan: world, acks: recorder.totals.worldAcks, positions: recorder.totals.logPositions, client: statsClient).run()
            outcome.print(stats: after)
            try await printShared(statsClient)
            var missing = outcome.missing
            if declareAfter {
                let started = ContinuousClock.now
                try await declarePools(statsClient)
                print("repair    declaring the office phones after ingest took \(String(format: "%.3f", (ContinuousClock.now - started).seconds)) s (pool_set quarantines them and repairs their persons)")
                let again = try await WorldVerification(plan: world, acks: recorder.totals.worldAcks, positions: recorder.totals.logPositions, client: statsClient).run()
                again.print(stats: try? await statsClient.stats())
                try await printShared(statsClient)
                missing += again.missing
            }
            await statsClient.close()
            if missing > 0 { throw ExitCode.failure }
        } else {
            await statsClient?.close()
        }
    }
}

extension LoadCommand {
    /// How batches travel.
    enum Transport: String, CaseIterable, ExpressibleByArgument {
        /// Acked batches: every one is answered after its group commit.
        case tcp
        /// Fire and forget: loss is read from the server's counters.
        case udp
    }

    /// What the beacons are.
    enum Traffic: String, CaseIterable, ExpressibleByArgument {
        /// An endless visit-shaped stream, for throughput.
        case simple
        /// The seeded world with ground truth, sent once in time order.
        case world
    }

    /// What the queries alongside ingest ask.
    enum QueryKind: String, CaseIterable, ExpressibleByArgument {
        /// Lookups, every 10th a history page of 20 events.
        case lookup
        /// Lease requests (call tracking).
        case lease
    }
}
