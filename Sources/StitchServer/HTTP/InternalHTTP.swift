import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import StitchAPI

/// The internal HTTP port (default 7072; the public intake is 7073), for
/// operators, reporting services and support staff:
///
/// - `GET /metrics`: Prometheus text; `GET /healthz`: 200 "ok" while the
///   server runs, 503 while it stops.
/// - `GET /api/openapi.json`: the JSON API's contract (`proto/openapi.yaml`).
/// - `/api/v1/…`: the JSON query API (`QueryAPI`), with bearer tokens.
/// - `GET /explorer/`: the profile explorer (`explorer/`), a page that uses
///   the JSON API only.
///
/// Every answer carries `Content-Security-Policy: default-src 'self'`: the
/// explorer loads nothing from elsewhere and runs no inline script.
final class InternalHTTP: Sendable {
    /// Connections the port holds at once (scrapers, reporting services,
    /// explorer tabs); more wait in the listen backlog.
    static let connectionsMax = 256
    /// Largest request body (a batch lookup of 1,000 identifiers, a pool of
    /// 10,000 numbers fit); larger ones are refused with 413.
    static let bodyBytesMax = 2 << 20

    private let listener: HTTPListener

    private init(listener: HTTPListener) {
        self.listener = listener
    }

    /// Binds the port and starts serving; returns once it listens.
    static func start(
        host: String, port requestedPort: Int, tls: StitchServer.PortTLS? = nil, service: QueryService, metrics: ServerMetrics, knownSites: [UInt32],
        isHealthy: @escaping @Sendable () -> Bool, eventLoopGroup: any EventLoopGroup, logger: Logger
    ) async throws -> InternalHTTP {
        let router = Router(context: PeerRequestContext.self)
        router.add(middleware: InternalHTTPMiddleware(metrics: metrics))
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        router.get("healthz") { _, _ in
            let healthy = isHealthy()
            return Response(
                status: healthy ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: healthy ? "ok\n" : "stopping\n")))
        }
        router.get(RouterPath(OpenAPIDocument.path)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        ExplorerAssets.add(to: router)
        // Compact JSON: the API's answers are read by programs, and the
        // explorer; `| jq` prints them for people.
        try QueryAPI(service: service, eventLoops: eventLoopGroup, knownSites: knownSites).registerHandlers(
            on: router, configuration: .init(jsonEncodingOptions: [.sortedKeys]))

        let listener = try await HTTPListener.start(
            router: router, name: "internal HTTP", host: host, port: requestedPort, connectionsMax: connectionsMax,
            tls: tls, metrics: metrics, metricsPort: "http", eventLoopGroup: eventLoopGroup, logger: logger)
        return InternalHTTP(listener: listener)
    }

    var port: Int { listener.port }

    /// Stops accepting; requests in flight finish first.
    func stop() async {
        await listener.stop()
    }
}

/// What every request of the internal port goes through:
///
/// - JSON API requests: the body is read within `InternalHTTP.bodyBytesMax`,
///   the bearer token and peer are handed to `QueryAPI` (`APICaller`), and
///   a request the contract refuses (a bad parameter, a malformed body)
///   is answered 400 with the contract's JSON error, never 500.
/// - Every answer: the page's security headers.
/// - An unknown path: 404 naming what the port serves.
struct InternalHTTPMiddleware: RouterMiddleware {
    typealias Context = PeerRequestContext

    static let apiPrefix = "/api/v1/"

    /// Counts the requests refused here, before any operation ran
    /// (`stitch_query_errors_total{type="api"}`); the operations' own
    /// failures are counted by `QueryService` under their request type.
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        if request.uri.path.hasPrefix(Self.apiPrefix) {
            response = await api(request, context: context, next: next)
        } else {
            do {
                response = try await next(request, context)
            } catch let error as HTTPError where error.status == .notFound {
                response = Self.text(
                    .notFound, "not found; try /metrics, /healthz, /explorer/, \(OpenAPIDocument.path) or /api/v1/…\n")
            }
        }
        response.headers[.contentSecurityPolicy] = "default-src 'self'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    private func api(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async
        -> Response
    {
        var request = request
        do {
            _ = try await request.collectBody(upTo: InternalHTTP.bodyBytesMax)
        } catch {
            return refuse(413, QueryFailure(.invalidArgument, "the body is over \(InternalHTTP.bodyBytesMax) bytes"))
        }
        let caller = APICaller(
            token: Self.bearerToken(request.headers[.authorization]), remote: context.remoteAddress,
            host: request.head.authority)
        do {
            return try await APICaller.$current.withValue(caller) { try await next(request, context) }
        } catch let error as HTTPError where error.status == .notFound {
            return refuse(404, QueryFailure(.notFound, "no such operation: \(request.method) \(request.uri.path); see \(OpenAPIDocument.path)"))
        } catch let error as HTTPError where error.status == .methodNotAllowed {
            return refuse(405, QueryFailure(.invalidArgument, "\(request.method) is not an operation of \(request.uri.path)"))
        } catch {
            // The generated routing refused the request against the contract
            // (a parameter of the wrong type, a body that is not the schema).
            return refuse(400, QueryFailure(.invalidArgument, Self.describe(error)))
        }
    }

    private func refuse(_ status: Int, _ failure: QueryFailure) -> Response {
        metrics.counter(.queryErrors, [("type", "api"), ("code", failure.label)]).increment()
        return Self.json(status, failure)
    }

    /// `Authorization: Bearer TOKEN` → TOKEN; anything else → empty.
    static func bearerToken(_ header: String?) -> String {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return "" }
        return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    /// The generated code's error, without the request echoed back.
    private static func describe(_ error: any Error) -> String {
        if let server = error as? ServerError {
            return "\(server.causeDescription): \(server.underlyingError)"
        }
        return "\(error)"
    }

    static func json(_ status: Int, _ failure: QueryFailure) -> Response {
        let body = (try? JSONEncoder().encode(Components.Schemas._Error(failure))) ?? Data("{}".utf8)
        return Response(
            status: .init(code: status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
