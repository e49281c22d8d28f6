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
        let process = Process()
        process.executableURL = repository.appendingPathComponent("ops/make-test-certs.sh")
        process.arguments = [directory]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "ops/make-test-certs.sh failed (\(process.terminationStatus))"])
        }
    }

    /// `name.pem` (or the key, with `key: true`) in the directory.
    public func path(_ name: String, key: Bool = false) -> String {
        "\(directory)/\(name).\(key ? "key" : "pem")"
    }

    public var ca: String { path("ca") }
    public var otherCA: String { path("other-ca") }
}
