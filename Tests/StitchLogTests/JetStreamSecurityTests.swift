import Foundation
import StitchLog
import StitchTesting
import Testing

/// The cluster's NATS connections with credentials and TLS, against a real
/// nats-server that requires both (certificates made by openssl at test time).
@Suite("JetStream log: credentials and TLS")
struct JetStreamSecurityTests {
    @Test("a server requiring a password and TLS takes the right ones and refuses plaintext, a wrong password, an unknown CA", .timeLimit(.minutes(1)))
    func passwordAndTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-nats-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try await TestCertificates.make(in: directory)
        let cluster = try NATSCluster(extraArguments: [
            "--user", "stitch", "--pass", "s3cret-for-tests",
            "--tls", "--tlscert", certificates.path("server"), "--tlskey", certificates.path("server", key: true),
        ])
        defer { cluster.stop() }
        let good = JetStreamLog.Security(user: "stitch", password: "s3cret-for-tests", caFile: certificates.ca)
        // The server may take a moment to listen.
        let deadline = ContinuousClock.now + .seconds(20)
        var log: JetStreamLog?
        while log == nil {
            do {
                log = try JetStreamLog(urls: cluster.urls, name: "test", timeoutMs: 2000, security: good)
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try log!.ensureStream("STITCH_P0", subjects: ["stitch.p0"], replicas: 1)
        #expect(try log!.publish(subject: "stitch.p0", data: Array("over TLS".utf8), messageID: "tls/1").sequence == 1)
        #expect(good.summary == "user stitch, TLS (CA \(certificates.ca))", "no secret in the summary")

        var plaintext = good
        plaintext.caFile = ""
        var wrongPassword = good
        wrongPassword.password = "guess"
        var unknownCA = good
        unknownCA.caFile = certificates.otherCA
        for (what, security) in [("plaintext", plaintext), ("a wrong password", wrongPassword), ("an unknown CA", unknownCA)] {
            #expect(throws: (any Error).self, "\(what) is refused") {
                _ = try JetStreamLog(urls: cluster.urls, name: "test", timeoutMs: 2000, security: security)
            }
        }
    }
}
