import HummingbirdCore
import Logging
import NIOCore

/// An HTTP port's child channel with TLS in front: a `TLSGate` first, which
/// takes each new connection's context from the port's `PortTLS` (so a
/// SIGHUP reload reaches new connections, as on the framed ports) and
/// refuses or passes plaintext, then Hummingbird's HTTP/1.1 channel.
/// (HummingbirdTLS's own channel fixes one context at start.)
struct GatedTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let tls: StitchServer.PortTLS
    let onRefused: @Sendable () -> Void
    let onHandshakeFailed: @Sendable () -> Void

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(TLSGate(
                sslContext: tls.context(), allowPlaintext: tls.allowPlaintext, refusal: tls.refusal,
                onRefused: onRefused, onHandshakeFailed: onHandshakeFailed))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension GatedTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1.1, behind a `TLSGate` when `tls` is given.
    static func http1(
        tls: StitchServer.PortTLS?, onRefused: @escaping @Sendable () -> Void, onHandshakeFailed: @escaping @Sendable () -> Void
    ) -> HTTPServerBuilder {
        guard let tls else { return .http1() }
        return HTTPServerBuilder { responder in
            GatedTLSChannel(base: HTTP1Channel(responder: responder), tls: tls, onRefused: onRefused, onHandshakeFailed: onHandshakeFailed)
        }
    }
}
