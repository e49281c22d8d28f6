import ArgumentParser
import StitchClient

/// TLS options of the commands that connect to a Stitch port (`query`,
/// `import`, `load`). None given: plaintext.
struct TLSOptions: ParsableArguments {
    @Flag(help: "Speak TLS, trusting the system's CAs (implied by --tls-ca).")
    var tls = false

    @Option(help: ArgumentHelp("PEM file of the CA that signed the server's certificate.", valueName: "file"))
    var tlsCa: String?

    @Option(help: ArgumentHelp("Name the server's certificate must carry (default: the host connected to).", valueName: "name"))
    var tlsServerName: String?

    @Option(help: ArgumentHelp("PEM certificate of this client, for a query port that requires one (with --tls-key).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    /// The client's TLS settings, or nil for plaintext.
    var settings: TLSClientSettings? {
        guard tls || tlsCa != nil || tlsServerName != nil || tlsCert != nil else { return nil }
        return TLSClientSettings(caFile: tlsCa, serverName: tlsServerName, certificateFile: tlsCert, keyFile: tlsKey)
    }
}
