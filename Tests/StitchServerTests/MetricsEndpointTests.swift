#if canImport(Glibc)
import Glibc
#endif
import StitchServer
import Testing

/// The operator's HTTP port.
@Suite("Metrics and health over HTTP")
struct MetricsEndpointTests {
    /// One HTTP/1.0 GET over a plain socket: the whole response as text.
    static func get(_ path: String, port: Int) throws -> String {
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
        let request = Array("GET \(path) HTTP/1.0\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: response, as: UTF8.self)
    }

    @Test("/metrics shows the ingest counters in Prometheus text; /healthz says ok; others are 404")
    func metricsAndHealth() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        _ = try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-metric-1", session: "session-metric-1")], sequence: 1).get()
        await ingest.close()

        let metrics = try Self.get("/metrics", port: server.ports.http)
        #expect(metrics.hasPrefix("HTTP/1.0 200 OK"))
        #expect(metrics.contains("# TYPE stitch_beacons_accepted_total counter"))
        #expect(metrics.contains("stitch_beacons_accepted_total 1"))
        #expect(metrics.contains("stitch_commit_seconds_count 1"))
        let health = try Self.get("/healthz", port: server.ports.http)
        #expect(health.hasPrefix("HTTP/1.0 200 OK"))
        #expect(health.hasSuffix("ok\n"))
        #expect(try Self.get("/nothing", port: server.ports.http).hasPrefix("HTTP/1.0 404"))
        await server.stopAndRemove()
    }
}
