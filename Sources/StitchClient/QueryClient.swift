import Foundation
import NIOCore
import NIOPosix
import StitchWire
import Synchronization

/// A client of the query protocol (`proto/query.proto`): connects, says
/// hello with a token, then sends pipelined requests. Thread-safe; many
/// requests may be outstanding at once.
public final class QueryClient: Sendable {
    private let connection: Connection<Stitch_V1_Response>
    private let nextID = Atomic<UInt64>(1)
    /// What the server said to our hello: readable sites and limits.
    public let hello: Stitch_V1_HelloResponse
    /// Cluster mode: the `min_position` of every request that names none.
    public let defaultMinPosition: Stitch_V1_LogPosition?

    private init(connection: Connection<Stitch_V1_Response>, hello: Stitch_V1_HelloResponse, defaultMinPosition: Stitch_V1_LogPosition? = nil) {
        self.defaultMinPosition = defaultMinPosition
        self.connection = connection
        self.hello = hello
    }

    /// Connects and authenticates.
    ///
    /// - Parameter sayHello: false skips the hello (tests of what the server
    ///   does with requests before it).
    /// - Throws: `ClientError.cannotConnect`, or `.server` when the token is refused.
    public static func connect(
        host: String,
        port: Int,
        token: String = "",
        clientName: String = "stitch-client",
        sayHello: Bool = true,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        minPosition: Stitch_V1_LogPosition? = nil,
        tls: TLSClientSettings? = nil
    ) async throws -> QueryClient {
        let connection = try await Connection<Stitch_V1_Response>.open(
            host: host, port: port, group: group, tls: tls, parse: parseResponse)
        guard sayHello else { return QueryClient(connection: connection, hello: .init()) }
        let helloRequest = QueryHello.request(token: token, clientName: clientName)
        let response = try await send(helloRequest, id: QueryHello.requestID, on: connection).get()
        do {
            return QueryClient(connection: connection, hello: try QueryHello.accepted(response), defaultMinPosition: minPosition)
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Sends one request and returns the whole response, errors included.
    /// `minPosition` (cluster mode): answer only once the node has applied
    /// the log that far — an ack's `log_positions` entry, for read-your-writes.
    public func response(
        _ kind: Stitch_V1_Request.OneOf_Kind, minPosition: Stitch_V1_LogPosition? = nil
    ) -> EventLoopFuture<Stitch_V1_Response> {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        return Self.send(.with {
            $0.kind = kind
            if let minPosition = minPosition ?? defaultMinPosition { $0.minPosition = minPosition }
        }, id: id, on: connection)
    }

    /// Sends one request; a typed error response throws `ClientError.server`.
    public func request(
        _ kind: Stitch_V1_Request.OneOf_Kind, minPosition: Stitch_V1_LogPosition? = nil
    ) async throws -> Stitch_V1_Response.OneOf_Kind {
        let response = try await response(kind, minPosition: minPosition).get()
        switch response.kind {
        case .error(let error): throw ClientError.server(error)
        case .some(let body): return body
        case nil: throw ClientError.protocolViolation("an empty response")
        }
    }

    // MARK: Conveniences

    /// Looks a person up by one raw identifier.
    public func lookup(
        site: UInt32, kind: Stitch_V1_IdentifierKind, value: String, namespace: String = "",
        includeIdentifiers: Bool = false, minPosition: Stitch_V1_LogPosition? = nil
    ) async throws -> Stitch_V1_LookupResponse {
        let lookup = Stitch_V1_LookupRequest.with {
            $0.site = site
            $0.person.identifier = .with {
                $0.kind = kind
                $0.value = value
                $0.namespace = namespace
            }
            $0.includeIdentifiers = includeIdentifiers
        }
        let body = try await request(.lookup(lookup), minPosition: minPosition)
        guard case .lookup(let lookup) = body else { throw ClientError.protocolViolation("not a lookup response") }
        return lookup
    }

    /// One page of history.
    public func history(_ request: Stitch_V1_HistoryRequest) async throws -> Stitch_V1_HistoryResponse {
        guard case .history(let history) = try await self.request(.history(request)) else {
            throw ClientError.protocolViolation("not a history response")
        }
        return history
    }

    public func mergesSince(site: UInt32 = 0, cursor: UInt64 = 0, limit: UInt32 = 0) async throws
        -> Stitch_V1_MergesSinceResponse
    {
        let body = try await request(.mergesSince(.with {
            $0.site = site
            $0.cursor = cursor
            $0.limit = limit
        }))
        guard case .mergesSince(let merges) = body else { throw ClientError.protocolViolation("not merges") }
        return merges
    }

    public func stats() async throws -> Stitch_V1_StatsResponse {
        guard case .stats(let stats) = try await request(.stats(.init())) else {
            throw ClientError.protocolViolation("not a stats response")
        }
        return stats
    }

    /// Which tracking number to show a session.
    public func lease(site: UInt32, session: String) async throws -> Stitch_V1_LeaseResponse {
        let body = try await request(.lease(.with {
            $0.site = site
            $0.session = .with {
                $0.kind = .session
                $0.value = session
            }
        }))
        guard case .lease(let lease) = body else { throw ClientError.protocolViolation("not a lease response") }
        return lease
    }

    /// The chain of events that links identifier `a` to `b`, or why none does.
    public func explain(site: UInt32, a: Stitch_V1_Identifier, b: Stitch_V1_Identifier) async throws
        -> Stitch_V1_ExplainResponse
    {
        let body = try await request(.explain(.with {
            $0.site = site
            $0.a = a
            $0.b = b
        }))
        guard case .explain(let explain) = body else { throw ClientError.protocolViolation("not an explain response") }
        return explain
    }

    /// Replaces a site's number pool (admin token).
    public func setPool(site: UInt32, _ pool: Stitch_V1_NumberPool) async throws -> Stitch_V1_PoolResponse {
        let body = try await request(.poolSet(.with {
            $0.site = site
            $0.pool = pool
        }))
        guard case .poolSet(let answer) = body else { throw ClientError.protocolViolation("not a pool response") }
        return answer
    }

    /// A site's number pool and how many of its numbers are held.
    public func pool(site: UInt32) async throws -> Stitch_V1_PoolResponse {
        guard case .poolGet(let answer) = try await request(.poolGet(.with { $0.site = site })) else {
            throw ClientError.protocolViolation("not a pool response")
        }
        return answer
    }

    /// Quarantines an identifier and repairs the person holding it (admin token).
    public func quarantine(site: UInt32, identifier: Stitch_V1_Identifier, reason: String) async throws -> Stitch_V1_RepairResponse {
        let body = try await request(.quarantine(.with {
            $0.site = site
            $0.identifier = identifier
            $0.reason = reason
        }))
        guard case .quarantine(let answer) = body else { throw ClientError.protocolViolation("not a quarantine response") }
        return answer
    }

    /// Lifts a quarantine: the identifier's events link it again (admin token).
    public func unquarantine(site: UInt32, identifier: Stitch_V1_Identifier) async throws -> Stitch_V1_RepairResponse {
        let body = try await request(.unquarantine(.with {
            $0.site = site
            $0.identifier = identifier
        }))
        guard case .unquarantine(let answer) = body else { throw ClientError.protocolViolation("not an unquarantine response") }
        return answer
    }

    /// A site's quarantined (shared) identifiers.
    public func shared(site: UInt32, limit: UInt32 = 0) async throws -> Stitch_V1_SharedResponse {
        let body = try await request(.shared(.with {
            $0.site = site
            $0.limit = limit
        }))
        guard case .shared(let answer) = body else { throw ClientError.protocolViolation("not a shared response") }
        return answer
    }

    /// Erases the person holding an identifier (admin token).
    public func forget(site: UInt32, identifier: Stitch_V1_Identifier) async throws -> Stitch_V1_ForgetResponse {
        let body = try await request(.forget(.with {
            $0.site = site
            $0.identifier = identifier
        }))
        guard case .forget(let answer) = body else { throw ClientError.protocolViolation("not a forget response") }
        return answer
    }

    /// The audit log's entries after `afterSeq`, oldest first (admin token).
    public func audit(afterSeq: UInt64 = 0, limit: UInt32 = 100, site: UInt32 = 0) async throws -> Stitch_V1_AuditResponse {
        let body = try await request(.audit(.with {
            $0.afterSeq = afterSeq
            $0.limit = limit
            $0.site = site
        }))
        guard case .audit(let answer) = body else { throw ClientError.protocolViolation("not an audit response") }
        return answer
    }

    /// Sends a ready-made frame (tests send malformed ones) expecting a
    /// response with `requestID`.
    public func sendFrame(_ frame: ByteBuffer, requestID: UInt64) -> EventLoopFuture<Stitch_V1_Response> {
        connection.send(frame, sequence: requestID)
    }

    /// Sends ready-made frames in one burst (one event-loop hop, one flush).
    public func sendFrames(_ frames: [(frame: ByteBuffer, requestID: UInt64)]) -> [EventLoopFuture<Stitch_V1_Response>] {
        connection.send(frames.map { (frame: $0.frame, sequence: $0.requestID) })
    }

    public func close() async {
        await connection.close()
    }

    // MARK: Framing

    private static func send(
        _ request: Stitch_V1_Request, id: UInt64, on connection: Connection<Stitch_V1_Response>
    ) -> EventLoopFuture<Stitch_V1_Response> {
        var request = request
        request.requestID = id
        var buffer = connection.channel.allocator.buffer(capacity: 128)
        do {
            // Requests are small; a fresh encoder never deflates (plain frames).
            try FrameEncoder().encode(request, type: .request, sequence: id, into: &buffer)
        } catch {
            return connection.channel.eventLoop.makeFailedFuture(error)
        }
        return connection.send(buffer, sequence: id)
    }

    @Sendable
    private static func parseResponse(_ frame: Frame, _ decoder: PayloadDecoder) throws
        -> (UInt64, Stitch_V1_Response, unsolicitedError: String?)
    {
        let response = try decoder.decode(frame, as: Stitch_V1_Response.self, expecting: .response)
        var unsolicited: String?
        if case .error(let error) = response.kind { unsolicited = ClientError.server(error).description }
        return (frame.header.sequence, response, unsolicited)
    }
}
