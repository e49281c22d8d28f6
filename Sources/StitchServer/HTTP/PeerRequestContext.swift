import Hummingbird
import NIOCore

/// Hummingbird's request context plus the peer's address, for the HTTP
/// ports' rate limits, trusted proxies and loopback-only access.
struct PeerRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
