import Foundation
import NIOCore
import StitchClient
import StitchTesting
import StitchWire
import Testing

/// `stitch serve` as a real process: SIGTERM, SIGKILL, restart, verify, and
/// `stitch query` against it.
@Suite("stitch serve as a process")
struct ServeProcessTests {
    /// A running `stitch serve` with OS-chosen ports.
    final class ServeProcess {
        let child: ChildProcess
        let directory: TemporaryDirectory
        let ports: [String: Int]
        let logPath: String

        init(directory: TemporaryDirectory, dataName: String = "data", extraArguments: [String] = []) throws {
            self.directory = directory
            let ready = directory.appending("ready-\(UUID().uuidString.prefix(6)).json")
            logPath = directory.appending("serve-\(UUID().uuidString.prefix(6)).log")
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let arguments = [
                "serve", "--data-dir", directory.appending(dataName), "--ingest-port", "0", "--query-port", "0",
                "--http-port", "0", "--intake-port", "0", "--ready-file", ready, "--set", "event_loops=1", "--set", "map_bytes=67108864",
                // Tests run beside each other on few cores: a SCHED_IDLE writer
                // would wait for every busy test thread (the default is for a
                // dedicated host).
                "--set", "ingest_priority=normal",
                // A crashed test process must not leave its servers running.
                "--exit-with-parent",
            ] + extraArguments
            child = try ChildProcess(CLITests.binary.path, arguments: arguments, stderr: .file(logPath))
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: ready) {
                guard child.isRunning, Date() < deadline else {
                    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(Self.read(logPath))"])
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            ports = try JSONDecoder().decode([String: Int].self, from: Data(contentsOf: URL(fileURLWithPath: ready)))
        }

        var log: String { Self.read(logPath) }

        static func read(_ path: String) -> String {
            (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }

        /// The server's process id.
        var pid: pid_t { child.pid }

        /// Sends `number` and waits for the exit: the exit status, or the
        /// signal's number if it ended the process.
        func signal(_ number: Int32) -> Int32 {
            child.signal(number)
            return child.wait()
        }

        var queryServer: String { "127.0.0.1:\(ports["query"]!)" }
    }

    static func hits(_ cookies: [String]) -> [Stitch_V1_Beacon] {
        cookies.map { cookie in
            .with {
                $0.site = 1
                $0.timeMs = 1_700_000_000_000
                $0.identifiers = [.with { $0.kind = .cookie; $0.value = cookie }]
                $0.hit = .with { $0.url = "https://a.example/" }
            }
        }
    }

    @Test("SIGTERM: acked data is served by `stitch query`, the process exits 0, the store verifies")
    func sigtermExitsCleanly() async throws {
        let directory = try TemporaryDirectory("stitch-serve")
        defer { directory.remove() }
        let serve = try ServeProcess(directory: directory)
        let ingest = try await IngestClient.connect(host: "127.0.0.1", port: serve.ports["ingest"]!)
        let reply = try await ingest.send(Self.hits(["cookie-term-01"]), sequence: 1).get()
        #expect(reply == .ack(.with { $0.accepted = 1 }))
        await ingest.close()

        let lookup = try CLITests.stitch("query", "lookup", "cookie", "cookie-term-01", "--site", "1", "--server", serve.queryServer)
        #expect(lookup.status == 0)
        #expect(lookup.out.contains("cookie        cookie-term-01"))
        let missing = try CLITests.stitch("query", "lookup", "cookie", "cookie-none-01", "--site", "1", "--server", serve.queryServer)
        #expect(missing.status == 3)
        let json = try CLITests.stitch("query", "stats", "--json", "--server", serve.queryServer)
        #expect(json.status == 0)
        let stats = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect(stats?["events"] as? String == "1")  // protobuf JSON writes 64-bit integers as strings

        #expect(serve.signal(SIGTERM) == 0)
        #expect(serve.log.contains("stopped cleanly"))
        let verify = try CLITests.stitch("verify", "--data-dir", directory.appending("data"))
        #expect(verify.status == 0, "\(verify.out)")
    }

    @Test("--exit-with-parent: a server whose starter died stops by itself, cleanly")
    func exitsWithParent() throws {
        let directory = try TemporaryDirectory("stitch-orphan")
        defer { directory.remove() }
        let ready = directory.appending("ready.json"), log = directory.appending("serve.log")
        // A shell starts the server, waits until it listens, prints its pid and exits.
        let script = """
            "$0" serve --data-dir "$1" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
              --set ingest_priority=normal --ready-file "$2" --exit-with-parent 2>"$3" >/dev/null &
            while [ ! -s "$2" ]; do sleep 0.05; done
            echo $!
            """
        let starter = try ChildProcess.run(
            "/bin/sh", arguments: ["-c", script, CLITests.binary.path, directory.appending("data"), ready, log])
        let printed = String(decoding: starter.out, as: UTF8.self)
        #expect(starter.status == 0)
        let pid = try #require(pid_t(printed.trimmingCharacters(in: .whitespacesAndNewlines)), "the shell printed \(printed)")
        // The orphan is not our child. It has ended when it is gone or a
        // zombie (a container's pid 1 may never reap it).
        func running() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let state = stat.split(separator: ")").last?.split(separator: " ").first
            else { return false }
            return state != "Z"
        }
        let deadline = Date().addingTimeInterval(20)
        while running(), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!running(), "the server outlived its starter by 20 s")
        let written = ServeProcess.read(log)
        #expect(written.contains("has exited; stopping as on SIGTERM"), "\(written)")
        #expect(written.contains("stopped cleanly"), "\(written)")
    }

    @Test("SIGKILL during ingest: the store opens without repair, verifies, and holds every acked beacon")
    func sigkillKeepsAcked() async throws {
        let directory = try TemporaryDirectory("stitch-kill")
        defer { directory.remove() }
        let serve = try ServeProcess(directory: directory)
        let ingest = try await IngestClient.connect(host: "127.0.0.1", port: serve.ports["ingest"]!)
        var pending: [(cookies: [String], reply: EventLoopFuture<IngestReply>)] = []
        var acked: [[String]] = []
        var sequence: UInt64 = 0
        let killAt = ContinuousClock.now + .milliseconds(400)
        while ContinuousClock.now < killAt {
            sequence += 1
            let cookies = (0..<50).map { "cookie-kill-\(sequence)-\($0)" }
            pending.append((cookies, ingest.send(Self.hits(cookies), sequence: sequence)))
            if pending.count >= 16 {
                let oldest = pending.removeFirst()
                if case .ack? = try? await oldest.reply.get() { acked.append(oldest.cookies) }
            }
        }
        #expect(serve.signal(SIGKILL) == SIGKILL)
        for batch in pending {
            if case .ack? = try? await batch.reply.get() { acked.append(batch.cookies) }
        }
        await ingest.close()
        #expect(acked.count > 0)

        let verify = try CLITests.stitch("verify", "--data-dir", directory.appending("data"))
        #expect(verify.status == 0, "\(verify.out)")
        let restarted = try ServeProcess(directory: directory)
        let query = try await QueryClient.connect(host: "127.0.0.1", port: restarted.ports["query"]!)
        let events = try await query.stats().events
        #expect(events >= UInt64(acked.count * 50), "every acked beacon is stored (unacked ones may be too)")
        for cookies in acked {
            #expect(try await query.lookup(site: 1, kind: .cookie, value: cookies.last!).found)
        }
        await query.close()
        #expect(restarted.signal(SIGTERM) == 0)
    }

    @Test("a SIGTERM right after the ready file appears stops the server cleanly (it used to kill it, before the service group listened)")
    func stopSignalRightAfterReady() throws {
        let directory = try TemporaryDirectory("stitch-early-term")
        defer { directory.remove() }
        // The window was microseconds wide; a few rounds beside the other
        // suites' load caught it in CI.
        for round in 0..<5 {
            let serve = try ServeProcess(directory: directory, dataName: "data-\(round)")
            #expect(serve.signal(SIGTERM) == 0, "round \(round): \(serve.log)")
            #expect(serve.log.contains("stopped cleanly"), "round \(round): \(serve.log)")
        }
    }

    @Test("`stitch query` says clearly when no server is there")
    func queryWithoutServer() throws {
        let run = try CLITests.stitch("query", "stats", "--server", "127.0.0.1:1")
        #expect(run.status == 1)
        #expect(run.err.contains("cannot connect to 127.0.0.1:1"))
        #expect(run.err.contains("stitch serve"))
    }

    @Test("log_format = json: every line on standard error is one JSON object with time, level, label, source and message")
    func jsonLogs() throws {
        let directory = try TemporaryDirectory("stitch-json-log")
        defer { directory.remove() }
        let serve = try ServeProcess(directory: directory, extraArguments: ["--set", "log_format=json"])
        #expect(serve.signal(SIGTERM) == 0)
        let lines = serve.log.split(separator: "\n")
        #expect(lines.count >= 3, "\(serve.log)")
        var messages: [String] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            #expect(Set(object.keys).isSuperset(of: ["time", "level", "label", "source", "message"]), "\(line)")
            #expect((object["time"] as? String).map { ISO8601DateFormatter().date(from: $0.replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)) != nil } == true)
            messages.append(object["message"] as? String ?? "")
        }
        #expect(messages.contains { $0.hasPrefix("listening: ingest tcp+udp 127.0.0.1:") })
        #expect(messages.contains { $0.hasPrefix("stopped cleanly") })
        let refused = try CLITests.stitch("serve", "--set", "log_format=yaml")
        #expect(refused.status == 2 && refused.err.contains("log_format"))
    }

    @Test("`stitch serve` refuses a bad setting by name, before starting")
    func badSetting() throws {
        let run = try CLITests.stitch("serve", "--set", "durability=sometimes")
        #expect(run.status == 2)
        #expect(run.err.contains("durability"))
    }

    @Test("`stitch serve` refuses a shard layout other than the store's (exit 2), naming both and the migration")
    func shardLayoutChangeRefused() throws {
        let directory = try TemporaryDirectory("stitch-layout")
        defer { directory.remove() }
        let data = directory.appending("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(#"{"shards": 2, "sites": {"9": 0}}"#.utf8).write(to: URL(fileURLWithPath: data + "/shards.json"))
        let run = try CLITests.stitch(
            "serve", "--data-dir", data, "--set", "shards=3", "--ingest-port", "0", "--query-port", "0",
            "--http-port", "0", "--intake-port", "0")
        #expect(run.status == 2)
        #expect(run.err.contains("2 shards (placed: 9=0)") && run.err.contains("3 shards") && run.err.contains("ops/reshard.sh"), "\(run.err)")
    }
}
