import Foundation

/// Certificates made for one test by `ops/make-test-certs.sh` (openssl): a
/// CA, a server certificate for localhost and 127.0.0.1, a renewed one, an
/// expired one, client certificates, and a CA that signed none of them.
public struct TestCertificates: Sendable {
    public let directory: String

    /// Runs the script into `directory`, waiting off the cooperative pool;
    /// throws when openssl fails.
    public static func make(in directory: String) async throws -> TestCertificates {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TestCertificates, any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try TestCertificates(in: directory) })
            }
        }
    }

    private init(in directory: String) throws {
        self.directory = directory
        let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let made = try ChildProcess.run(repository.appendingPathComponent("ops/make-test-certs.sh").path, arguments: [directory])
        guard made.status == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "ops/make-test-certs.sh failed (\(made.status)): \(String(decoding: made.err, as: UTF8.self))"])
        }
    }

    /// `name.pem` (or the key, with `key: true`) in the directory.
    public func path(_ name: String, key: Bool = false) -> String {
        "\(directory)/\(name).\(key ? "key" : "pem")"
    }

    public var ca: String { path("ca") }
    public var otherCA: String { path("other-ca") }
}
