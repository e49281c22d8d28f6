import AsyncHTTPClient
import Foundation
import NIOSSL
import StitchClient
@testable import StitchServer
import StitchTesting
import StitchWire
import Testing

/// TLS on the collector's TCP port, the query port and the two HTTP ports,
/// with certificates made at test time by openssl (`ops/make-test-certs.sh`).
@Suite("TLS on the TCP ports")
struct TLSTests {
    static func server(
        _ certificates: TestCertificates, certificate: String = "server", _ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        try await TestServer {
            $0.tlsCertificateFile = certificates.path(certificate)
            $0.tlsKeyFile = certificates.path(certificate, key: true)
            // The framed ports; the tests read /metrics in plaintext.
            $0.tlsPorts = [.ingest, .query]
            configure(&$0)
        }
    }

    static func trusting(_ ca: String, serverName: String? = nil, client: String? = nil, certificates: TestCertificates) -> TLSClientSettings {
        TLSClientSettings(
            caFile: ca, serverName: serverName,
            certificateFile: client.map { certificates.path($0) }, keyFile: client.map { certificates.path($0, key: true) })
    }

    static func plaintextRefusals(_ server: TestServer, port: String) async throws -> Int {
        try await counter("stitch_tls_plaintext_refused_total", server, port: port)
    }

    static func counter(_ name: String, _ server: TestServer, port: String) async throws -> Int {
        let text = try await MetricsEndpointTests.get("/metrics", port: server.ports.http)
        let line = text.split(separator: "\n").first { $0.hasPrefix("\(name){port=\"\(port)\"}") }
        return line.flatMap { $0.split(separator: " ").last.flatMap { Int($0) } } ?? 0
    }

    @Test("a client trusting the CA sends a batch and looks the visitor up; by name (localhost) and by address (127.0.0.1)")
    func trustedClientIsServed() async throws {
        let directory = try TemporaryDirectory("stitch-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let server = try await Self.server(certificates)
        let tls = Self.trusting(certificates.ca, certificates: certificates)
        let ingest = try await IngestClient.connect(host: "127.0.0.1", port: server.ports.ingest, tls: tls)
        let reply = try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "tls-cookie-1", session: "tls-session-1")], sequence: 1).get()
        #expect(reply.ack?.accepted == 1)
        await ingest.close()
        let query = try await QueryClient.connect(host: "localhost", port: server.ports.query, tls: tls)
        let found = try await query.lookup(site: 1, kind: .cookie, value: "tls-cookie-1")
        #expect(found.found)
        await query.close()
        await server.stopAndRemove()
    }

    @Test("a certificate from another CA, or an expired one, is refused by the client")
    func untrustedOrExpiredCertificateIsRefused() async throws {
        let directory = try TemporaryDirectory("stitch-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let server = try await Self.server(certificates)
        await #expect(throws: (any Error).self) {
            let client = try await IngestClient.connect(
                host: "127.0.0.1", port: server.ports.ingest, tls: Self.trusting(certificates.otherCA, certificates: certificates))
            // The handshake fails at the first write at the latest.
            _ = try await client.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-plain-1", session: "session-plain-1")], sequence: 1).get()
        }
        await server.stopAndRemove()

        let expired = try await Self.server(certificates, certificate: "expired")
        await #expect(throws: (any Error).self) {
            let client = try await QueryClient.connect(
                host: "127.0.0.1", port: expired.ports.query, tls: Self.trusting(certificates.ca, certificates: certificates))
            await client.close()
        }
        await expired.stopAndRemove()
    }

    @Test("plaintext on a TLS port: refused with a typed error and counted (tls_plaintext = refuse), served with allow")
    func plaintextIsRefusedUnlessAllowed() async throws {
        let directory = try TemporaryDirectory("stitch-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let server = try await Self.server(certificates)
        let ingest = try await IngestClient.connect(host: "127.0.0.1", port: server.ports.ingest)
        let refused = await #expect(throws: ClientError.self) {
            _ = try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-plain-1", session: "session-plain-1")], sequence: 1).get()
        }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("TLS only"))
        await ingest.close()
        let query = await #expect(throws: ClientError.self) {
            let client = try await QueryClient.connect(host: "127.0.0.1", port: server.ports.query)
            await client.close()
        }
        #expect("\(query.map { "\($0)" } ?? "")".contains("TLS only"))
        try await eventually("both refusals counted") {
            let ingest = try await Self.plaintextRefusals(server, port: "ingest")
            let query = try await Self.plaintextRefusals(server, port: "query")
            return ingest == 1 && query == 1
        }
        await server.stopAndRemove()

        let migrating = try await Self.server(certificates) { $0.tlsAllowsPlaintext = true }
        let plain = try await IngestClient.connect(host: "127.0.0.1", port: migrating.ports.ingest)
        #expect(try await plain.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-plain-1", session: "session-plain-1")], sequence: 1).get().ack?.accepted == 1)
        await plain.close()
        let secure = try await QueryClient.connect(
            host: "127.0.0.1", port: migrating.ports.query, tls: Self.trusting(certificates.ca, certificates: certificates))
        #expect(try await secure.lookup(site: 1, kind: .cookie, value: "cookie-plain-1").found)
        await secure.close()
        await migrating.stopAndRemove()
    }

    @Test("tls_client_ca_file: the query port takes only clients with a certificate that CA signed; the collector asks none")
    func clientCertificatesOnTheQueryPort() async throws {
        let directory = try TemporaryDirectory("stitch-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let server = try await Self.server(certificates) { $0.tlsClientCAFile = certificates.ca }
        let signed = try await QueryClient.connect(
            host: "127.0.0.1", port: server.ports.query, tls: Self.trusting(certificates.ca, client: "client", certificates: certificates))
        #expect(try await signed.lookup(site: 1, kind: .cookie, value: "nobody-at-all").found == false)
        await signed.close()
        for client in [nil, "other-client"] {
            await #expect(throws: (any Error).self, "client certificate \(client ?? "none")") {
                let refused = try await QueryClient.connect(
                    host: "127.0.0.1", port: server.ports.query, tls: Self.trusting(certificates.ca, client: client, certificates: certificates))
                await refused.close()
            }
        }
        let ingest = try await IngestClient.connect(
            host: "127.0.0.1", port: server.ports.ingest, tls: Self.trusting(certificates.ca, certificates: certificates))
        #expect(try await ingest.send([Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-plain-1", session: "session-plain-1")], sequence: 1).get().ack?.accepted == 1)
        await ingest.close()
        try await eventually("both refused handshakes counted") {
            try await Self.counter("stitch_tls_handshake_failures_total", server, port: "query") == 2
        }
        await server.stopAndRemove()
    }

    @Test("a TLS file that cannot be used stops the start, naming the file")
    func unusableFilesStopTheStart() async throws {
        let directory = try TemporaryDirectory("stitch-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let error = await #expect(throws: TLSSetupError.self) {
            _ = try await TestServer(directory: try TemporaryDirectory("stitch-tls-bad")) {
                $0.tlsCertificateFile = certificates.path("server")
                $0.tlsKeyFile = certificates.path("server")  // a certificate, not a key
            }
        }
        #expect(error?.file == certificates.path("server"))
    }

    @Test("the HTTP ports take HTTPS with the same certificate; plain HTTP gets 400 and is counted; tls_ports leaves a port plain")
    func httpPortsTakeTLS() async throws {
        let directory = try TemporaryDirectory("stitch-tls")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let server = try await Self.server(certificates) { $0.tlsPorts = Set(ServerConfiguration.Listener.allCases) }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificates.ca)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        func get(_ url: String) async throws -> (status: UInt, body: String) {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
            return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        #expect(try await get("https://localhost:\(server.ports.http)/healthz").status == 200)
        #expect(try await get("https://localhost:\(server.ports.intake)/v1/stitch.js").status == 200)
        let plain = try await MetricsEndpointTests.rawGetOffPool("/healthz", port: server.ports.http)
        #expect(plain.status == 400 && String(decoding: plain.body, as: UTF8.self).contains("HTTPS only"))
        let plainIntake = try await MetricsEndpointTests.rawGetOffPool("/v1/stitch.js", port: server.ports.intake)
        #expect(plainIntake.status == 400)
        let metrics = try await get("https://localhost:\(server.ports.http)/metrics").body
        #expect(metrics.contains("stitch_tls_plaintext_refused_total{port=\"http\"} 1"))
        #expect(metrics.contains("stitch_tls_plaintext_refused_total{port=\"intake\"} 1"))
        await #expect(throws: (any Error).self, "a client that does not trust the CA") {
            let untrusting = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = untrusting.shutdown() }
            _ = try await untrusting.execute(HTTPClientRequest(url: "https://localhost:\(server.ports.http)/healthz"), timeout: .seconds(30))
        }
        try await client.shutdown()
        await server.stopAndRemove()

        let mixed = try await Self.server(certificates) { $0.tlsPorts = [.ingest, .query, .intake] }
        #expect(try await MetricsEndpointTests.rawGetOffPool("/healthz", port: mixed.ports.http).status == 200, "http is left plain")
        #expect(try await MetricsEndpointTests.rawGetOffPool("/v1/stitch.js", port: mixed.ports.intake).status == 400)
        await mixed.stopAndRemove()
    }
}
