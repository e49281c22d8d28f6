extension Stitch_V1_ErrorCode {
    /// Stable snake_case name of a query error code, for metrics labels and
    /// messages (`permission_denied`, `not_found`, …).
    public var label: String {
        switch self {
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
        case .unspecified: "unspecified"
        case .UNRECOGNIZED(let raw): "error_\(raw)"
        }
    }
}
