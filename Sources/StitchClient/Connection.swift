import NIOCore
import NIOPosix
import NIOSSL
import StitchWire

/// A TCP connection speaking Stitch frames, with replies matched to requests
/// by sequence. The base of `IngestClient` and `QueryClient`.
struct Connection<Reply: Sendable>: Sendable {
    let channel: any Channel

    static func open(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        tls: TLSClientSettings? = nil,
        parse: @escaping @Sendable (Frame, PayloadDecoder) throws -> (UInt64, Reply, unsolicitedError: String?)
    ) async throws -> Connection {
        let tlsContext = try tls?.makeContext()
        // SNI carries names only: for an IP address the server's certificate is
        // checked against its IP entries, by the address connected to.
        let name = tls?.serverName ?? host
        let serverName: String? = (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
        do {
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tlsContext {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandlers([
                            ByteToMessageHandler(FrameDecoder()), ReplyHandler<Reply>(parse: parse),
                        ])
                    }
                }
                .connect(host: host, port: port).get()
            return Connection(channel: channel)
        } catch {
            throw ClientError.cannotConnect(host: host, port: port, reason: "\(error)")
        }
    }

    /// Sends one frame and returns its reply's future.
    func send(_ frame: ByteBuffer, sequence: UInt64) -> EventLoopFuture<Reply> {
        let promise = channel.eventLoop.makePromise(of: Reply.self)
        channel.writeAndFlush(PendingRequest(sequence: sequence, frame: frame, promise: promise)).whenFailure {
            promise.fail(ClientError.connectionClosed(lastError: "\($0)"))
        }
        return promise.futureResult
    }

    /// Sends several frames with one hop onto the event loop and one flush:
    /// far cheaper per frame than `send` for a client that sends in bursts.
    func send(_ frames: [(frame: ByteBuffer, sequence: UInt64)]) -> [EventLoopFuture<Reply>] {
        let loop = channel.eventLoop
        let requests = frames.map { PendingRequest(sequence: $0.sequence, frame: $0.frame, promise: loop.makePromise(of: Reply.self)) }
        let channel = channel
        loop.execute {
            for request in requests {
                channel.write(request).whenFailure { request.promise.fail(ClientError.connectionClosed(lastError: "\($0)")) }
            }
            channel.flush()
        }
        return requests.map(\.promise.futureResult)
    }

    /// Writes bytes that expect no reply (tests of fatal framing errors).
    func sendUnanswered(_ bytes: ByteBuffer) async throws {
        let promise = channel.eventLoop.makePromise(of: Reply.self)
        // Registered under a sequence no real request uses, so the handler
        // passes the bytes on; the promise fails when the connection closes.
        try await channel.writeAndFlush(PendingRequest(sequence: .max, frame: bytes, promise: promise))
        promise.futureResult.whenComplete { _ in }
    }

    func close() async {
        try? await channel.close()
    }
}
