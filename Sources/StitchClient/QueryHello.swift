import StitchWire

/// The hello every query connection opens with (`proto/query.proto`), in one
/// place for the event-loop client (`QueryClient`) and the blocking one
/// (`BlockingQueryConnection`).
enum QueryHello {
    /// The hello's request id: one the request counters (from 1) never reach.
    static let requestID = UInt64.max - 1

    static func request(token: String, clientName: String) -> Stitch_V1_Request {
        .with {
            $0.requestID = requestID
            $0.hello = .with {
                $0.token = token
                $0.clientName = clientName
                $0.protocolVersion = 1
            }
        }
    }

    /// What the server said to the hello, or the reason it refused.
    ///
    /// - Throws: `ClientError.server` for a refused token,
    ///   `.protocolViolation` for any other answer.
    static func accepted(_ response: Stitch_V1_Response) throws(ClientError) -> Stitch_V1_HelloResponse {
        switch response.kind {
        case .hello(let hello): return hello
        case .error(let error): throw .server(error)
        default: throw .protocolViolation("hello answered with \(String(describing: response.kind))")
        }
    }
}
