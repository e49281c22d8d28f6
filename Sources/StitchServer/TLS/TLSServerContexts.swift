import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// The server's TLS contexts, built from the configured PEM files and
/// rebuilt by `reload` (SIGHUP): new connections take the new certificate,
/// open ones keep the context they began with, so a reload drops nothing.
///
/// The collector's port asks for no client certificate. The query port asks
/// for one, and verifies it against `tls_client_ca_file`, when that is set.
final class TLSServerContexts: Sendable {
    /// The files the contexts are built from.
    struct Files: Sendable, Equatable {
        var certificateFile: String
        var keyFile: String
        var clientCAFile: String?
    }

    let files: Files
    private let contexts: NIOLockedValueBox<(ingest: NIOSSLContext, query: NIOSSLContext)>

    /// Builds both contexts; throws `TLSSetupError` naming the file at fault.
    init(files: Files) throws(TLSSetupError) {
        self.files = files
        contexts = NIOLockedValueBox(try Self.build(files))
    }

    /// The context for a new connection on the collector's TCP port.
    var ingest: NIOSSLContext { contexts.withLockedValue { $0.ingest } }
    /// The context for a new connection on the query port.
    var query: NIOSSLContext { contexts.withLockedValue { $0.query } }

    /// Reads the files again. On failure the contexts in use stay, and the
    /// error says why (an operator's half-copied certificate must not take
    /// the ports down).
    func reload() throws(TLSSetupError) {
        let fresh = try Self.build(files)
        contexts.withLockedValue { $0 = fresh }
    }

    private static func build(_ files: Files) throws(TLSSetupError) -> (ingest: NIOSSLContext, query: NIOSSLContext) {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
        } catch {
            throw TLSSetupError(file: files.certificateFile, reason: "not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw TLSSetupError(file: files.certificateFile, reason: "holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(file: files.keyFile, format: .pem)
        } catch {
            throw TLSSetupError(file: files.keyFile, reason: "not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        let ingest: NIOSSLContext
        do {
            ingest = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(file: files.keyFile, reason: "does not match the certificate, or is unusable (\(error))")
        }
        guard let clientCAFile = files.clientCAFile else { return (ingest, ingest) }
        configuration.trustRoots = .file(clientCAFile)
        // A client certificate is required and its chain checked; a client
        // has no host name to check.
        configuration.certificateVerification = .noHostnameVerification
        do {
            return (ingest, try NIOSSLContext(configuration: configuration))
        } catch {
            throw TLSSetupError(file: clientCAFile, reason: "not a readable PEM CA file (\(error))")
        }
    }
}

/// A TLS file that cannot be used, and why.
struct TLSSetupError: Error, CustomStringConvertible {
    let file: String
    let reason: String
    var description: String { "TLS: \(file) \(reason)" }
}
