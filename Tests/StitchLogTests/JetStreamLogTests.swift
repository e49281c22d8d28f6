import Foundation
import StitchLog
import Testing

/// The replicated log's first piece against a real NATS server with
/// JetStream (Debian's nats-server, which `ops/test.sh` installs), on a
/// loopback port of its own and a temporary store.
@Suite("JetStream log")
struct JetStreamLogTests {
    /// A nats-server with JetStream, stopped when the test ends.
    final class NATSServer {
        let process = Process()
        let port: Int
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-nats-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            port = try Self.freePort()
            guard let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
            else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "nats-server not found: run ops/test.sh, which installs it"]) }
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-js", "-a", "127.0.0.1", "-p", "\(port)", "-sd", directory.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var url: String { "nats://127.0.0.1:\(port)" }

        func stop() {
            if process.isRunning { process.terminate() }
            for _ in 0..<100 where process.isRunning { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: directory)
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    /// Connects once the server listens (it takes a moment to start).
    static func connect(_ server: NATSServer) async throws -> JetStreamLog {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            do {
                return try JetStreamLog(urls: server.url, stream: "STITCH", subjects: ["stitch.batches.>"])
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test("published batches come back in order by sequence; a repeated message id is JetStream's duplicate", .timeLimit(.minutes(1)))
    func publishAndRead() async throws {
        let server = try NATSServer()
        defer { server.stop() }
        let log = try await Self.connect(server)
        var sequences: [UInt64] = []
        for index in 0..<50 {
            let ack = try log.publish(subject: "stitch.batches.\(index % 4)", data: Array("batch \(index)".utf8), messageID: "node-a/\(index)")
            #expect(!ack.duplicate)
            sequences.append(ack.sequence)
        }
        #expect(sequences == Array(1...50))
        let again = try log.publish(subject: "stitch.batches.1", data: Array("batch 1".utf8), messageID: "node-a/1")
        #expect(again.duplicate && again.sequence == 2, "a resend with the same id is not stored twice")
        #expect(try log.lastSequence() == 50)
        for sequence in [UInt64(1), 2, 37, 50] {
            let message = try #require(try log.read(sequence: sequence))
            #expect(message.data == Array("batch \(sequence - 1)".utf8))
            #expect(message.subject == "stitch.batches.\((sequence - 1) % 4)")
        }
        #expect(try log.read(sequence: 51) == nil)
        // A second connection (another node) sees the same stream.
        let other = try JetStreamLog(urls: server.url, stream: "STITCH", subjects: ["stitch.batches.>"])
        #expect(try other.lastSequence() == 50)
    }

    @Test("a server that is not there is a clear error")
    func noServer() throws {
        let port = try NATSServer.freePort()
        #expect(throws: JetStreamLog.Failure.self) {
            _ = try JetStreamLog(urls: "nats://127.0.0.1:\(port)", stream: "STITCH", subjects: ["stitch.>"])
        }
    }
}
