import Foundation
import NIOCore
import NIOSSL
import StitchWire

extension StitchServer {
    /// Re-reads the TLS files on every SIGHUP: new connections take the new
    /// certificate, open ones keep theirs. A file that cannot be used keeps
    /// the previous certificate in use, logged as an error and counted.
    func reloadOnSIGHUP(_ tls: TLSServerContexts) -> SignalWatch {
        // The default action of SIGHUP ends the process; the source sees it instead.
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let (logger, metrics) = (logger, metrics)
        source.setEventHandler {
            do {
                try tls.reload()
                logger.notice("TLS: SIGHUP: certificate \(tls.files.certificateFile) and key reloaded; new connections use them")
                metrics.counter(.tlsReloads, [("result", "ok")]).increment()
            } catch {
                logger.error("TLS: SIGHUP: \(error); the previous certificate stays in use")
                metrics.counter(.tlsReloads, [("result", "failed")]).increment()
            }
        }
        source.resume()
        return SignalWatch(source: source)
    }

    /// What a framed TCP port does with TLS: its context for each new
    /// connection, and the typed refusal a plaintext client gets.
    struct PortTLS: Sendable {
        let context: @Sendable () -> NIOSSLContext
        let allowPlaintext: Bool
        let refusal: @Sendable (ByteBufferAllocator) -> ByteBuffer
    }

    /// The collector's refusal of plaintext: an ERROR frame, closing.
    static func ingestPlaintextRefusal(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        let error = Stitch_V1_FrameError.with {
            $0.code = .tlsRequired
            $0.message = "this port takes TLS only (tls_plaintext = refuse); reconnect with TLS"
            $0.closing = true
        }
        try! FrameEncoder().encode(error, type: .error, sequence: 0, into: &buffer)  // far within the limits
        return buffer
    }

    /// What HTTP port `port` does with TLS, if it takes it. Neither HTTP port
    /// asks for client certificates: browsers reach the intake, Prometheus
    /// and reporting services the internal port with their bearer tokens.
    func httpTLS(_ running: Running, _ port: ServerConfiguration.Listener) -> PortTLS? {
        guard let tls = running.tls, configuration.tlsPorts.contains(port) else { return nil }
        return PortTLS(context: { tls.ingest }, allowPlaintext: configuration.tlsAllowsPlaintext, refusal: Self.httpPlaintextRefusal)
    }

    /// An HTTP port's refusal of plaintext: 400, as web servers answer a
    /// plain request on an HTTPS port, then the connection closes.
    static func httpPlaintextRefusal(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        let body = "this port takes HTTPS only (tls_plaintext = refuse); use https://\n"
        return allocator.buffer(string: "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
    }

    /// The query port's refusal of plaintext: an error response to request 0.
    static func queryPlaintextRefusal(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        let response = Stitch_V1_Response.with {
            $0.requestID = 0
            $0.error = .with {
                $0.code = .unauthenticated
                $0.message = "this port takes TLS only (tls_plaintext = refuse); reconnect with TLS"
            }
        }
        try! FrameEncoder().encode(response, type: .response, sequence: 0, into: &buffer)  // far within the limits
        return buffer
    }
}

/// A signal source the server cancels when it stops. Dispatch sources are
/// safe to use from any thread, which Swift cannot see for itself.
final class SignalWatch: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    init(source: any DispatchSourceSignal) {
        self.source = source
    }

    func cancel() {
        source.cancel()
    }
}
