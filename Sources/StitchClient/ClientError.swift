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
    /// No answer within the time limit.
    case timedOut(seconds: Double)

    public var description: String {
        switch self {
        case .cannotConnect(let host, let port, let reason):
            "cannot connect to \(host):\(port) (\(reason)); is `stitch serve` running there?"
        case .connectionClosed(let lastError):
            "the server closed the connection" + (lastError.map { ": \($0)" } ?? "")
        case .server(let error):
            "server refused: \(Self.name(of: error.code)): \(error.message)"
        case .protocolViolation(let what):
            "unexpected answer from the server: \(what)"
        case .timedOut(let seconds):
            "no answer within \(seconds) s"
        }
    }

    /// Short snake-case name of a query error code.
    public static func name(of code: Stitch_V1_ErrorCode) -> String {
        switch code {
        case .unauthenticated: "unauthenticated"
        case .permissionDenied: "permission_denied"
        case .invalidArgument: "invalid_argument"
        case .notFound: "not_found"
        case .badFrame: "bad_frame"
        case .tooManyInFlight: "too_many_in_flight"
        case .responseTooLarge: "response_too_large"
        case .unsupported: "unsupported"
        case .unavailable: "unavailable"
        case .internal: "internal"
        default: "error \(code.rawValue)"
        }
    }
}
