import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// A shop's web site for the browser tests: HTML pages on their own origin,
/// served by a small Hummingbird app on an OS-chosen loopback port. Each page
/// is made per request from its query parameters and the intake port
/// (Stitch starts after the shop, whose origin it must allow).
struct ShopServer {
    typealias Page = @Sendable (_ query: [String: String], _ intakePort: Int) -> String

    let port: Int
    let task: Task<Void, any Error>
    var origin: String { "http://127.0.0.1:\(port)" }

    static func start(intakePort: NIOLockedValueBox<Int>, pages: [String: Page]) async throws -> ShopServer {
        let router = Router()
        for (path, page) in pages {
            router.get(RouterPath(path)) { request, _ in
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
                let text = page(query, intakePort.withLockedValue { $0 })
                return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.get("/thanks") { _, _ in "Thanks" }
        let (port, task) = await serve(router)
        return ShopServer(port: port, task: task)
    }

    /// Runs `router` on an OS-chosen loopback port until the task is
    /// cancelled; returns once it listens.
    static func serve(_ router: Router<BasicRequestContext>) async -> (port: Int, task: Task<Void, any Error>) {
        let (bound, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await value in bound { port = value }
        return (port, task)
    }
}
