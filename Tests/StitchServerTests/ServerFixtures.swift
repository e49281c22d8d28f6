import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StitchClient
@testable import StitchServer
import StitchTesting
import StitchWire
import Testing

/// A real server on loopback with OS-chosen ports and a temporary store.
final class TestServer: Sendable {
    let directory: TemporaryDirectory
    let configuration: ServerConfiguration
    let server: StitchServer
    let ports: StitchServer.BoundPorts

    /// Starts a server; `configure` adjusts the test defaults.
    init(
        directory: TemporaryDirectory? = nil, budgetClock: NIOLockedValueBox<Int64>? = nil, clock: NIOLockedValueBox<Int64>? = nil,
        _ configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws {
        let directory = try directory ?? TemporaryDirectory("stitch-server")
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory.appending("data")
        configuration.ingestPort = 0
        configuration.queryPort = 0
        configuration.httpPort = 0
        configuration.intakePort = 0
        configuration.eventLoops = 1
        configuration.flushIntervalMs = 1
        configuration.mapBytes = 64 << 20
        configuration.shutdownTimeoutMs = 5000
        // Tests run beside each other on few cores: a SCHED_IDLE writer would
        // wait for every busy test thread (the default is for a dedicated host).
        configuration.ingestPriority = .normal
        // Hundreds of servers start here: the default (`log`) lays down 64 MiB
        // of group log per shard at each start. Tests of `log` and `nosync`
        // ask for them (GroupLogSwitchTests, LifecycleTests, …).
        configuration.durability = .sync
        configure(&configuration)
        var logger = Logger(label: "stitch-test")
        logger.logLevel = .warning
        self.directory = directory
        self.configuration = configuration
        // A budget clock the test moves (nanoseconds), else CLOCK_MONOTONIC.
        var budgetClockNanoseconds: (@Sendable () -> Int64)?
        if let budgetClock {
            budgetClockNanoseconds = { budgetClock.withLockedValue { $0 } }
        }
        // A wall clock the test moves (milliseconds), else the real one.
        var clockMs: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
        if let clock { clockMs = { clock.withLockedValue { $0 } } }
        self.server = StitchServer(
            configuration: configuration, logger: logger, clockMs: clockMs, budgetClockNanoseconds: budgetClockNanoseconds)
        self.ports = try await server.start()
    }

    func ingestClient() async throws -> IngestClient {
        try await IngestClient.connect(host: "127.0.0.1", port: ports.ingest)
    }

    func queryClient(token: String = "") async throws -> QueryClient {
        try await QueryClient.connect(host: "127.0.0.1", port: ports.query, token: token, clientName: "test")
    }

    /// A page view of `session` (site 1 unless told), committed: what the
    /// public intake wants to have seen before it leases the session a number.
    func pageView(session: String, cookie: String? = nil, site: UInt32 = 1) async throws {
        let ingest = try await ingestClient()
        var hit = Beacons.hit(timeMs: Int64(Date().timeIntervalSince1970 * 1000), cookie: cookie ?? "cookie-of-\(session)", session: session)
        hit.site = site
        let ack = try await ingest.send([hit], sequence: 1).get().ack
        precondition(ack?.accepted == 1, "the page view was not stored: \(String(describing: ack))")
        await ingest.close()
    }

    func udpSender() async throws -> UDPSender {
        try await UDPSender.connect(host: "127.0.0.1", port: ports.ingest)
    }

    /// One retention pass now, on a Dispatch thread (its erasures are store
    /// writes, and in cluster mode waits for the log).
    func retentionPass() async -> RetentionPass.Run? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.server.runRetentionPass()) }
        }
    }

    /// Stops the server; the directory stays for a restart.
    func stop() async {
        await server.shutdown()
    }

    /// Stops the server and deletes its store.
    func stopAndRemove() async {
        await server.shutdown()
        directory.remove()
    }
}

/// Beacon builders for the tests.
enum Beacons {
    static func identifier(_ kind: Stitch_V1_IdentifierKind, _ value: String) -> Stitch_V1_Identifier {
        .with {
            $0.kind = kind
            $0.value = value
        }
    }

    /// A page hit by a visitor with a cookie and a session.
    static func hit(site: UInt32 = 1, timeMs: Int64, cookie: String, session: String, url: String = "https://a.example/")
        -> Stitch_V1_Beacon
    {
        .with {
            $0.site = site
            $0.timeMs = timeMs
            $0.identifiers = [identifier(.cookie, cookie), identifier(.session, session)]
            $0.hit = .with { $0.url = url }
        }
    }

    /// A form left by a visitor (cookie) with a phone.
    static func form(site: UInt32 = 1, timeMs: Int64, cookie: String, phone: String) -> Stitch_V1_Beacon {
        .with {
            $0.site = site
            $0.timeMs = timeMs
            $0.identifiers = [identifier(.cookie, cookie)]
            $0.form = .with {
                $0.formID = "callback"
                $0.phone = phone
            }
        }
    }
}

/// Waits until `condition` holds, polling; fails the test after `seconds`.
func eventually(
    _ what: String, seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for: \(what)", sourceLocation: sourceLocation)
}

extension IngestReply {
    /// The ack, or nil when the batch was refused.
    var ack: Stitch_V1_BatchAck? {
        if case .ack(let ack) = self { ack } else { nil }
    }

    var refusal: Stitch_V1_FrameError? {
        if case .refused(let error) = self { error } else { nil }
    }
}
