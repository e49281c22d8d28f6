import NIOCore
import NIOSSL

/// The first handler of a framed TCP port with TLS configured: it looks at
/// the connection's first byte. A TLS handshake record (22) gets a
/// `NIOSSLServerHandler` in front of the port's handlers; anything else is
/// plaintext, passed on when `tls_plaintext = allow` and otherwise answered
/// with the port's typed refusal (`refusal`) and closed. Either way the gate
/// then leaves the pipeline, so it costs nothing after the first read.
final class TLSGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// TLS record type of a handshake, the first byte a TLS client sends.
    static let handshakeRecordType: UInt8 = 22

    private let sslContext: NIOSSLContext
    private let allowPlaintext: Bool
    private let refusal: @Sendable (ByteBufferAllocator) -> ByteBuffer
    private let onRefused: @Sendable () -> Void
    private let onHandshakeFailed: @Sendable () -> Void
    private var refused = false

    init(
        sslContext: NIOSSLContext, allowPlaintext: Bool,
        refusal: @escaping @Sendable (ByteBufferAllocator) -> ByteBuffer, onRefused: @escaping @Sendable () -> Void,
        onHandshakeFailed: @escaping @Sendable () -> Void
    ) {
        self.onHandshakeFailed = onHandshakeFailed
        self.sslContext = sslContext
        self.allowPlaintext = allowPlaintext
        self.refusal = refusal
        self.onRefused = onRefused
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Bytes after a refusal are dropped unread: nothing plaintext gets in.
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if first == Self.handshakeRecordType {
            do {
                try context.pipeline.syncOperations.addHandlers(
                    [NIOSSLServerHandler(context: sslContext), TLSFailureCounter(onFailure: onHandshakeFailed)], position: .after(self))
            } catch {
                context.close(promise: nil)
                return
            }
        } else if !allowPlaintext {
            refused = true
            onRefused()
            context.writeAndFlush(wrapOutboundOut(refusal(context.channel.allocator))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Behind the TLS handler: counts the connections whose TLS failed (an
/// unknown or expired client certificate, a client that does not trust
/// ours, garbage after the first byte), once each, and passes the error on.
final class TLSFailureCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let onFailure: @Sendable () -> Void
    private var counted = false

    init(onFailure: @escaping @Sendable () -> Void) {
        self.onFailure = onFailure
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !counted, error is NIOSSLError || error is BoringSSLError {
            counted = true
            onFailure()
        }
        context.fireErrorCaught(error)
    }
}
