import Foundation
import StitchClient
import StitchTesting
import StitchWire
import Testing

/// `stitch serve` with TLS re-reads its certificate on SIGHUP: new
/// connections get the new one, open connections go on, and a file that
/// cannot be used keeps the previous certificate in use.
@Suite("TLS reload on SIGHUP")
struct TLSReloadTests {
    @Test("SIGHUP: a renewed certificate is served to new connections, open ones go on, a broken file changes nothing")
    func reloadOnSIGHUP() async throws {
        let directory = try TemporaryDirectory("stitch-tls-reload")
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory.appending("certs"))
        let live = (certificate: directory.appending("live.pem"), key: directory.appending("live.key"))
        func install(_ name: String) throws {
            for (source, target) in [(certificates.path(name), live.certificate), (certificates.path(name, key: true), live.key)] {
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: source, toPath: target)
            }
        }
        try install("server")
        let serve = try ServeProcessTests.ServeProcess(
            directory: directory, extraArguments: ["--set", "tls_cert_file=\(live.certificate)", "--set", "tls_key_file=\(live.key)"])
        let tls = TLSClientSettings(caFile: certificates.ca)
        let port = serve.ports["ingest"]!
        func connect() async throws -> IngestClient {
            let client = try await IngestClient.connect(host: "127.0.0.1", port: port, tls: tls)
            // The handshake (and the certificate's check) completes by the first answer.
            _ = try await client.send(ServeProcessTests.hits(["cookie-reload-probe"]), sequence: 1).get()
            return client
        }
        func reload(expecting line: String, count: Int) async throws {
            kill(serve.pid, SIGHUP)
            let deadline = ContinuousClock.now + .seconds(10)
            while serve.log.components(separatedBy: line).count - 1 < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(serve.log.components(separatedBy: line).count - 1 == count, "log: \(serve.log)")
        }

        let open = try await connect()

        // A half-written file: the reload fails, the certificate in use stays.
        try Data("-----BEGIN CERTIFICATE-----\nnot yet\n".utf8).write(to: URL(fileURLWithPath: live.certificate))
        try await reload(expecting: "the previous certificate stays in use", count: 1)
        await (try await connect()).close()

        // An expired certificate: new connections refuse it; the open one goes on.
        try install("expired")
        try await reload(expecting: "reloaded", count: 1)
        await #expect(throws: (any Error).self) { await (try await connect()).close() }
        #expect(try await open.send(ServeProcessTests.hits(["cookie-reload-open"]), sequence: 2).get() == .ack(.with { $0.accepted = 1 }))

        // The renewal: served again, to `stitch query` too.
        try install("server2")
        try await reload(expecting: "reloaded", count: 2)
        await (try await connect()).close()
        let lookup = try CLITests.stitch(
            "query", "lookup", "cookie", "cookie-reload-open", "--site", "1", "--server", serve.queryServer, "--tls-ca", certificates.ca)
        #expect(lookup.status == 0, "\(lookup.err)")
        let plaintext = try CLITests.stitch("query", "lookup", "cookie", "cookie-reload-open", "--site", "1", "--server", serve.queryServer)
        #expect(plaintext.status != 0 && plaintext.err.contains("TLS only"), "\(plaintext.err)")
        await open.close()
        #expect(serve.signal(SIGTERM) == 0)
    }
}
