import NIOCore
import NIOHTTP1

/// The operator's HTTP port: `GET /metrics` (Prometheus text) and
/// `GET /healthz` (200 "ok" while the server runs, 503 while it stops).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: ServerMetrics
    private let isHealthy: @Sendable () -> Bool
    private var head: HTTPRequestHead?

    init(metrics: ServerMetrics, isHealthy: @escaping @Sendable () -> Bool) {
        self.metrics = metrics
        self.isHealthy = isHealthy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // no endpoint takes a body
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        let contentType: String
        var body = context.channel.allocator.buffer(capacity: 256)
        switch (head.method, path) {
        case (.GET, "/metrics"):
            status = .ok
            contentType = "text/plain; version=0.0.4; charset=utf-8"
            body.writeBytes(metrics.exposition())
        case (.GET, "/healthz"):
            let healthy = isHealthy()
            status = healthy ? .ok : .serviceUnavailable
            contentType = "text/plain; charset=utf-8"
            body.writeString(healthy ? "ok\n" : "stopping\n")
        case (.GET, OpenAPIDocument.path):
            status = .ok
            contentType = "application/json"
            body.writeString(OpenAPIDocument.json)
        case (_, "/metrics"), (_, "/healthz"), (_, OpenAPIDocument.path):
            status = .methodNotAllowed
            contentType = "text/plain; charset=utf-8"
            body.writeString("use GET\n")
        default:
            status = .notFound
            contentType = "text/plain; charset=utf-8"
            body.writeString("not found; try /metrics, /healthz or \(OpenAPIDocument.path)\n")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
