import NIOSSL

/// How a client speaks TLS to a Stitch port: the CA that signed the server's
/// certificate, the name to check it against, and optionally the client's
/// own certificate (a query port set to require client certificates).
public struct TLSClientSettings: Sendable {
    /// PEM file of the CA (or CAs) to trust; nil trusts the system's roots.
    public var caFile: String?
    /// The name the server's certificate must carry (SNI too); nil: the host connected to.
    public var serverName: String?
    /// PEM certificate chain and key of this client, for a port that asks for one.
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, serverName: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.serverName = serverName
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// A TLS 1.2+ client context that verifies the server's certificate
    /// chain and name. Throws `ClientError.tlsSetup` for unreadable files.
    func makeContext() throws(ClientError) -> NIOSSLContext {
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let caFile { configuration.trustRoots = .file(caFile) }
            if let certificateFile, let keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .tlsSetup(reason: "\(error)")
        }
    }
}
