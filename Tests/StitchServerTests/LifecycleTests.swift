import NIOCore
import StitchClient
import StitchServer
import StitchWire
import Testing

/// Graceful shutdown and restart (issue: lifecycle): everything acked is
/// durable; nothing refused is half-stored.
@Suite("Shutdown and restart")
struct LifecycleTests {
    @Test("shutdown while clients pipeline: every acked beacon survives a restart, and nothing else is stored")
    func shutdownDrainsAcked() async throws {
        let first = try await TestServer()
        let clients = [try await first.ingestClient(), try await first.ingestClient(), try await first.ingestClient()]
        var batches: [(client: Int, sequence: UInt64, cookies: [String], reply: EventLoopFuture<IngestReply>)] = []
        for sequence in UInt64(1)...60 {
            for (index, client) in clients.enumerated() {
                let cookies = (0..<20).map { "cookie-\(index)-\(sequence)-\($0)" }
                let beacons = cookies.map { Beacons.hit(timeMs: 1_700_000_000_000 + Int64(sequence), cookie: $0, session: "session-\($0)") }
                batches.append((index, sequence, cookies, client.send(beacons, sequence: sequence)))
            }
            if sequence == 20 {
                // Shut down while the rest are in flight.
                _ = try await batches[0].reply.get()
                Task { await first.stop() }
            }
        }
        var ackedBeacons = 0
        var acked: [[String]] = []
        var refused: [[String]] = []
        for batch in batches {
            switch try? await batch.reply.get() {
            case .ack(let ack)?:
                ackedBeacons += Int(ack.accepted)
                acked.append(batch.cookies)
            case .refused(let error)?:
                #expect(error.code == .shuttingDown && error.closing)
                refused.append(batch.cookies)
            case nil:
                refused.append(batch.cookies)  // never read by the server: not stored
            }
        }
        print("shutdown test: \(acked.count) batches acked, \(refused.count) refused or unread")
        #expect(ackedBeacons >= 20 * 20)
        for client in clients { await client.close() }
        await first.stop()

        let second = try await TestServer(directory: first.directory)
        let query = try await second.queryClient()
        let stats = try await query.stats()
        #expect(stats.events == UInt64(ackedBeacons), "events after restart must be exactly the acked beacons")
        for cookies in acked.prefix(50) + acked.suffix(50) {
            #expect(try await query.lookup(site: 1, kind: .cookie, value: cookies[0]).found)
        }
        for cookies in refused.prefix(20) {
            #expect(try await query.lookup(site: 1, kind: .cookie, value: cookies[0]).found == false)
        }
        await query.close()
        await second.stopAndRemove()
    }

    @Test("a stopped server refuses new connections; shutdown is idempotent")
    func stoppedServerRefuses() async throws {
        let server = try await Self.serverBelowEphemeralPorts()
        await server.stop()
        await server.stop()
        await #expect(throws: ClientError.self) { try await server.ingestClient() }
        server.directory.remove()
    }

    /// A server whose ingest port lies below the kernel's ephemeral range
    /// (32768 and up), which no other test's server (all bind port 0) can be
    /// given once this one lets it go: a refused connection then means this
    /// server stopped, not that the port went unused. An OS-chosen port
    /// freed by `stop()` was once handed straight to a parallel test's server.
    static func serverBelowEphemeralPorts() async throws -> TestServer {
        var lastError: any Error = CancellationError()
        for _ in 0..<50 {
            let port = Int.random(in: 20_000..<32_000)
            do {
                return try await TestServer { $0.ingestPort = port }
            } catch {
                lastError = error  // taken by some other program: try another
            }
        }
        throw lastError
    }

    @Test("the same store opened while a server holds it elsewhere still serves (restart keeps data)")
    func restartKeepsData() async throws {
        let first = try await TestServer()
        let ingest = try await first.ingestClient()
        _ = try await ingest.send([Beacons.form(timeMs: 1_700_000_000_000, cookie: "cookie-keep-01", phone: "+7 903 111 22 33")], sequence: 1).get()
        await ingest.close()
        await first.stop()
        let second = try await TestServer(directory: first.directory) { $0.durability = .nosync }
        let query = try await second.queryClient()
        let person = try await query.lookup(site: 1, kind: .phone, value: "8 903 111-22-33", includeIdentifiers: true)
        #expect(person.found)
        #expect(Set(person.person.identifiers.map(\.value)) == ["cookie-keep-01", "+79031112233"])
        await query.close()
        await second.stopAndRemove()
    }
}
