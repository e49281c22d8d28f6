#if canImport(Glibc)
import Dispatch
import Glibc
#endif
import Foundation
@testable import StitchServer
import Testing

/// The operator's HTTP port.
@Suite("Metrics and health over HTTP")
struct MetricsEndpointTests {
    /// One HTTP/1.0 GET over a plain socket: the whole response as text.
    static func get(_ path: String, port: Int) async throws -> String {
        String(decoding: try await rawGetOffPool(path, port: port).raw, as: UTF8.self)
    }

    /// `rawGet` on a Dispatch thread: Hummingbird (the intake and the
    /// internal port) answers on Swift's cooperative pool, which a blocking
    /// read there would starve.
    static func rawGetOffPool(_ path: String, port: Int, headers: [String: String] = [:]) async throws
        -> (status: Int, headers: [String: String], body: [UInt8], raw: [UInt8])
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try rawGet(path, port: port, headers: headers) })
            }
        }
    }

    /// One HTTP/1.0 GET over a plain socket (no client-side decoding): the
    /// status, the headers (lower-cased names), the body and the whole response.
    static func rawGet(_ path: String, port: Int, headers extra: [String: String] = [:]) throws
        -> (status: Int, headers: [String: String], body: [UInt8], raw: [UInt8])
    {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        // A blocking read must not hang a test (and the 2-thread concurrency
        // pool with it): the server closes after answering, and 10 s is the most.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let lines = extra.map { "\($0.key): \($0.value)\r\n" }.joined()
        let request = Array("GET \(path) HTTP/1.0\r\nConnection: close\r\n\(lines)\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        func headEnd() -> Int? {
            guard response.count >= 4 else { return nil }
            return (0...(response.count - 4)).first { response[$0..<($0 + 4)].elementsEqual(separator) }
        }
        // Until the server closes, or the body its Content-Length announces is in.
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
            if let end = headEnd() {
                let head = String(decoding: response[..<end], as: UTF8.self).lowercased()
                if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
                    response.count >= end + 4 + length
                {
                    break
                }
            }
        }
        let split = headEnd() ?? response.count
        let head = String(decoding: response[..<split], as: UTF8.self).split(separator: "\r\n")
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return (status, fields, Array(response[min(split + 4, response.count)...]), response)
    }

    @Test("/metrics shows the ingest counters in Prometheus text; /healthz says ok; others are 404")
    func metricsAndHealth() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        _ = try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-metric-1", session: "session-metric-1")], sequence: 1).get()
        await ingest.close()

        let metrics = try await Self.get("/metrics", port: server.ports.http)
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK"))
        #expect(metrics.contains("# TYPE stitch_beacons_accepted_total counter"))
        #expect(metrics.contains("stitch_beacons_accepted_total 1"))
        #expect(metrics.contains("stitch_commit_seconds_count 1"))
        let health = try await Self.get("/healthz", port: server.ports.http)
        #expect(health.hasPrefix("HTTP/1.1 200 OK"))
        #expect(health.hasSuffix("ok\n"))
        #expect(try await Self.get("/nothing", port: server.ports.http).hasPrefix("HTTP/1.1 404"))
        await server.stopAndRemove()
    }

    @Test("the overlay-rebuild counter follows the graph's running count, which housekeeping reads: each rebuild counted once")
    func overlayRebuildsCountedOnce() {
        let metrics = ServerMetrics()
        for total in [0, 3, 3, 5] { metrics.indexOverlayRebuilds(total: total) }
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains("stitch_index_overlay_rebuilds_total 5\n"), "\(text.split(separator: "\n").filter { $0.contains("rebuilds") })")
    }

    @Test("nosync mode syncs on its own thread and clock: also while no beacon comes, and counted")
    func nosyncSyncsWhileIdle() async throws {
        let server = try await TestServer {
            $0.durability = .nosync
            $0.syncIntervalMs = 20
        }
        let ingest = try await server.ingestClient()
        _ = try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-sync-1", session: "session-sync-1")], sequence: 1).get()
        await ingest.close()
        // No more traffic: the writer thread sits in the queue, and the syncs
        // still come (the writer used to sync only after a group).
        var syncs = 0
        for _ in 0..<250 where syncs < 3 {
            try await Task.sleep(for: .milliseconds(20))
            let metrics = try await Self.get("/metrics", port: server.ports.http)
            syncs = metrics.split(separator: "\n").first { $0.hasPrefix("stitch_sync_seconds_count ") }
                .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        }
        #expect(syncs >= 3, "periodic syncs seen while idle: \(syncs)")
        let metrics = try await Self.get("/metrics", port: server.ports.http)
        #expect(metrics.contains("stitch_sync_failures_total 0") || !metrics.contains("stitch_sync_failures_total"))
        await server.stopAndRemove()
    }

    @Test("the JSON API's contract is served as JSON on the internal port, never on the public intake")
    func openAPIContract() async throws {
        let server = try await TestServer()
        let answer = try await Self.rawGetOffPool("/api/openapi.json", port: server.ports.http)
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "application/json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let operations = Set(paths.values.flatMap { $0.values.compactMap { ($0 as? [String: Any])?["operationId"] as? String } })
        #expect(operations == [
            "tokenInfo", "lookupPerson", "batchLookup", "personHistory", "personGraph", "explainLink", "leaseNumber",
            "changesSince", "stats", "quarantine", "unquarantine", "forget", "getPool", "setPool", "audit",
        ])
        let intake = try await Self.rawGetOffPool("/api/openapi.json", port: server.ports.intake)
        #expect(intake.status == 404, "the public intake does not serve it")
        await server.stopAndRemove()
    }

    @Test("the explorer is served as explorer/ holds it (ops/embed-explorer.sh embeds it), under a self-only CSP")
    func explorerServedAsCommitted() async throws {
        let server = try await TestServer()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (path, file) in [("/explorer/", "index.html"), ("/explorer/explorer.js", "explorer.js"), ("/explorer/explorer.css", "explorer.css")] {
            let answer = try await Self.rawGetOffPool(path, port: server.ports.http)
            #expect(answer.status == 200, "\(path)")
            #expect(answer.headers["content-security-policy"] == "default-src 'self'", "\(path)")
            let committed = try String(contentsOf: root.appendingPathComponent("explorer").appendingPathComponent(file), encoding: .utf8)
            #expect(String(decoding: answer.body, as: UTF8.self) == committed, "\(file) differs from what is served: run ops/embed-explorer.sh")
        }
        await server.stopAndRemove()
    }
}
