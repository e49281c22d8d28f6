import StitchWire

/// Why a client call failed, worded for the person running the command.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// Nothing listens there, or the connection was refused.
    case cannotConnect(host: String, port: Int, reason: String)
    /// The connection closed before the answer came; `lastError` is what the
    /// server said before closing, if anything.
    case connectionClosed(lastError: String?)
    /// The server answered with a typed error.
    case server(Stitch_V1_Error)
    /// The server sent something this client cannot read.
    case protocolViolation(String)
    /// The client's TLS settings could not be used (a file missing or unreadable).
    case tlsSetup(reason: String)

    public var description: String {
        switch self {
        case .cannotConnect(let host, let port, let reason):
            "cannot connect to \(host):\(port) (\(reason)); is `stitch serve` running there?"
        case .connectionClosed(let lastError):
            "the server closed the connection" + (lastError.map { ": \($0)" } ?? "")
        case .server(let error):
            "server refused: \(error.code.label): \(error.message)"
        case .protocolViolation(let what):
            "unexpected answer from the server: \(what)"
        case .tlsSetup(let reason):
            "cannot set up TLS: \(reason)"
        }
    }
}
