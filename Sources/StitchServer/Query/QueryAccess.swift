import NIOCore
import StitchWire

/// What an authenticated query connection may read.
struct QueryAccess: Sendable, Equatable {
    /// For logs: the grant's name, never the token.
    var name: String
    /// Readable sites; `nil` means every site (admin).
    var sites: Set<UInt32>?

    static func admin(_ name: String) -> QueryAccess { QueryAccess(name: name, sites: nil) }

    func allows(site: UInt32) -> Bool {
        sites?.contains(site) ?? true
    }

    var isAdmin: Bool { sites == nil }
}

/// Checks `Hello.token` against the configured grants. With no grants the
/// server runs in loopback mode: any loopback client is admin, others are
/// refused.
struct TokenAuthority: Sendable {
    private let grants: [String: TokenGrant]

    init(grants: [TokenGrant]) {
        self.grants = Dictionary(grants.map { ($0.token, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// True when no tokens are configured.
    var loopbackOnly: Bool { grants.isEmpty }

    func authenticate(token: String, remote: SocketAddress?) -> Result<QueryAccess, QueryFailure> {
        if loopbackOnly {
            guard remote.map(Self.isLoopback) ?? false else {
                return .failure(QueryFailure(
                    .unauthenticated,
                    "this server has no tokens configured and accepts loopback clients only"))
            }
            return .success(.admin("loopback"))
        }
        guard let grant = grants[token] else {
            return .failure(QueryFailure(.unauthenticated, token.isEmpty ? "a token is required" : "unknown token"))
        }
        return .success(QueryAccess(name: grant.name, sites: grant.sites.isEmpty ? nil : Set(grant.sites)))
    }

    /// Whether a host name or address (no port, no brackets) is this machine's loopback.
    static func isLoopback(host: String) -> Bool {
        ["127.0.0.1", "localhost", "::1"].contains(host.lowercased()) || host.hasPrefix("127.")
    }

    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            return (UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24) == 127
        case .v6:
            return address.ipAddress == "::1" || (address.ipAddress?.hasPrefix("::ffff:127.") ?? false)
        case .unixDomainSocket:
            return true
        }
    }
}

/// A typed failure of one request, sent as `Response.error`.
struct QueryFailure: Error, Sendable, Equatable {
    var code: Stitch_V1_ErrorCode
    var message: String

    init(_ code: Stitch_V1_ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    var wireMessage: Stitch_V1_Error {
        .with {
            $0.code = code
            $0.message = message
        }
    }

    /// Snake-case label for metrics.
    var label: String { code.label }
}
