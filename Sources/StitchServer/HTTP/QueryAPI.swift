import Foundation
import NIOCore
import OpenAPIRuntime
import StitchAPI
import StitchWire

/// The JSON query API (`proto/openapi.yaml`), served under `/api/v1/` on the
/// internal HTTP port.
///
/// Each operation builds the binary protocol's request, has `QueryService`
/// answer it (the same access rules, limits and executor as the binary
/// protocol), and converts the answer (`QueryAPI+Schemas.swift`). Routing
/// and JSON coding are generated from the contract (`StitchAPI`); the
/// caller's token and address come from `APICaller.current`, set by
/// `APICallerMiddleware` for each request.
struct QueryAPI: APIProtocol {
    let service: QueryService
    /// Where heavy requests' answers come back to (the query event loops).
    let eventLoops: any EventLoopGroup
    /// Admin tokens read every site: these are the ones the settings name,
    /// offered by the explorer's site picker.
    let knownSites: [UInt32]

    // MARK: Persons

    func tokenInfo(_ input: Operations.TokenInfo.Input) async throws -> Operations.TokenInfo.Output {
        let caller = APICaller.current
        do throws(QueryFailure) {
            try Self.checkLoopbackHost(caller, authority: service.authority)
        } catch {
            return .default(statusCode: error.httpStatus, .init(body: .json(.init(error))))
        }
        switch service.authority.authenticate(token: caller.token, remote: caller.remote) {
        case .success(let access):
            return .ok(.init(body: .json(.init(
                name: access.name, admin: access.isAdmin, sites: (access.sites ?? []).sorted().map { Int32(bitPattern: $0) },
                knownSites: access.isAdmin ? knownSites.map { Int32(bitPattern: $0) } : nil,
                serverVersion: ServerVersion.current))))
        case .failure(let failure):
            service.metrics.counter(.helloFailures).increment()
            return .default(statusCode: failure.httpStatus, .init(body: .json(.init(failure))))
        }
    }

    func lookupPerson(_ input: Operations.LookupPerson.Input) async throws -> Operations.LookupPerson.Output {
        let query = input.query
        return await perform(minPosition: query.minPosition, failed: Operations.LookupPerson.Output.default) {
            .lookup(try .with {
                $0.site = try Self.site(input.path.site)
                $0.person = try Self.personRef(kind: query.kind, value: query.value, namespace: query.namespace, personID: query.personId)
                $0.includeIdentifiers = query.includeIdentifiers ?? false
            })
        } answer: { body throws(QueryFailure) in
            guard case .lookup(let found) = body else { throw Self.unexpected(body) }
            guard found.found else { throw QueryFailure(.notFound, "no such person in site \(input.path.site)") }
            return .ok(.init(body: .json(.init(found.person))))
        }
    }

    func batchLookup(_ input: Operations.BatchLookup.Input) async throws -> Operations.BatchLookup.Output {
        guard case .json(let request) = input.body else { preconditionFailure("the contract's only content type") }
        return await perform(failed: Operations.BatchLookup.Output.default) {
            .batchLookup(try .with {
                $0.site = try Self.site(input.path.site)
                $0.persons = request.identifiers.map { identifier in .with { $0.identifier = identifier.wire } }
                $0.includeIdentifiers = request.includeIdentifiers ?? false
            })
        } answer: { body throws(QueryFailure) in
            guard case .batchLookup(let batch) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(results: batch.results.map { result in
                .init(
                    found: result.found, person: result.found ? .init(result.person) : nil,
                    error: result.hasError ? .init(QueryFailure(result.error.code, result.error.message)) : nil)
            }))))
        }
    }

    func personHistory(_ input: Operations.PersonHistory.Input) async throws -> Operations.PersonHistory.Output {
        let query = input.query
        return await perform(minPosition: query.minPosition, failed: Operations.PersonHistory.Output.default) {
            .history(try .with {
                $0.site = try Self.site(input.path.site)
                $0.person = .with { $0.personID = UInt64(clamping: input.path.personId) }
                if let cursor = query.cursor, !cursor.isEmpty {
                    guard let bytes = Data(base64URLEncoded: cursor) else {
                        throw QueryFailure(.invalidArgument, "cursor: not one this server returned")
                    }
                    $0.cursor = bytes
                }
                $0.limit = UInt32(clamping: query.limit ?? 0)
                $0.fromMs = query.fromMs ?? 0
                $0.toMs = query.toMs ?? 0
                $0.types = (query.types ?? []).map { Stitch_V1_EventType(rawValue: $0.protoValue) ?? .unspecified }
                $0.newestFirst = query.newestFirst ?? false
                $0.conversions = query.conversions ?? false
                $0.model = query.model.flatMap { Stitch_V1_AttributionModel(rawValue: $0.protoValue) } ?? .unspecified
                $0.lookbackMs = query.lookbackMs ?? 0
                $0.halfLifeMs = query.halfLifeMs ?? 0
            })
        } answer: { body throws(QueryFailure) in
            guard case .history(let page) = body else { throw Self.unexpected(body) }
            let events: [Components.Schemas.Event]
            do {
                events = try page.events.map(Components.Schemas.Event.init)
            } catch {
                throw QueryFailure(.internal, "an event could not be written as JSON: \(error)")
            }
            return .ok(.init(body: .json(.init(
                personId: Int64(bitPattern: page.personID), events: events, nextCursor: page.nextCursor.base64URLEncoded))))
        }
    }

    func personGraph(_ input: Operations.PersonGraph.Input) async throws -> Operations.PersonGraph.Output {
        await perform(minPosition: input.query.minPosition, failed: Operations.PersonGraph.Output.default) {
            .personGraph(try .with {
                $0.site = try Self.site(input.path.site)
                $0.person = .with { $0.personID = UInt64(clamping: input.path.personId) }
                $0.identifiersOffset = UInt32(clamping: input.query.offset ?? 0)
                $0.identifiersLimit = UInt32(clamping: input.query.limit ?? 0)
            })
        } answer: { body throws(QueryFailure) in
            guard case .personGraph(let graph) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(graph))))
        }
    }

    func explainLink(_ input: Operations.ExplainLink.Input) async throws -> Operations.ExplainLink.Output {
        let query = input.query
        return await perform(failed: Operations.ExplainLink.Output.default) {
            .explain(try .with {
                $0.site = try Self.site(input.path.site)
                $0.a = Components.Schemas.Identifier(kind: query.aKind, value: query.aValue, namespace: query.aNamespace).wire
                $0.b = Components.Schemas.Identifier(kind: query.bKind, value: query.bValue, namespace: query.bNamespace).wire
            })
        } answer: { body throws(QueryFailure) in
            guard case .explain(let explanation) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(explanation))))
        }
    }

    // MARK: Call tracking, feed, stats

    func leaseNumber(_ input: Operations.LeaseNumber.Input) async throws -> Operations.LeaseNumber.Output {
        guard case .json(let request) = input.body else { preconditionFailure("the contract's only content type") }
        return await perform(failed: Operations.LeaseNumber.Output.default) {
            .lease(try .with {
                $0.site = try Self.site(input.path.site)
                $0.session = .with {
                    $0.kind = .session
                    $0.value = request.session
                }
            })
        } answer: { body throws(QueryFailure) in
            guard case .lease(let lease) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(lease))))
        }
    }

    func changesSince(_ input: Operations.ChangesSince.Input) async throws -> Operations.ChangesSince.Output {
        await perform(failed: Operations.ChangesSince.Output.default) {
            .mergesSince(try .with {
                $0.site = try Self.site(input.query.site)
                $0.cursor = UInt64(clamping: input.query.cursor ?? 0)
                $0.limit = UInt32(clamping: input.query.limit ?? 0)
            })
        } answer: { body throws(QueryFailure) in
            guard case .mergesSince(let page) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(
                changes: page.merges.map(Components.Schemas.Change.init), cursor: Int64(bitPattern: page.nextCursor)))))
        }
    }

    func stats(_ input: Operations.Stats.Input) async throws -> Operations.Stats.Output {
        await perform(failed: Operations.Stats.Output.default) {
            .stats(Stitch_V1_StatsRequest())
        } answer: { body throws(QueryFailure) in
            guard case .stats(let stats) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(stats))))
        }
    }

    // MARK: Admin

    func audit(_ input: Operations.Audit.Input) async throws -> Operations.Audit.Output {
        await perform(failed: Operations.Audit.Output.default) {
            .audit(.with {
                $0.afterSeq = UInt64(clamping: input.query.after ?? 0)
                $0.limit = UInt32(clamping: input.query.limit ?? 0)
                $0.site = UInt32(clamping: input.query.site ?? 0)
            })
        } answer: { body throws(QueryFailure) in
            guard case .audit(let page) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(
                entries: page.entries.map(Components.Schemas.AuditEntry.init), next: Int64(bitPattern: page.nextSeq)))))
        }
    }

    func quarantine(_ input: Operations.Quarantine.Input) async throws -> Operations.Quarantine.Output {
        guard case .json(let request) = input.body else { preconditionFailure("the contract's only content type") }
        return await perform(failed: Operations.Quarantine.Output.default) {
            .quarantine(try .with {
                $0.site = try Self.site(input.path.site)
                $0.identifier = Components.Schemas.Identifier(kind: request.kind, value: request.value, namespace: request.namespace).wire
                $0.reason = request.reason ?? ""
            })
        } answer: { body throws(QueryFailure) in
            guard case .quarantine(let repair) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(repair))))
        }
    }

    func unquarantine(_ input: Operations.Unquarantine.Input) async throws -> Operations.Unquarantine.Output {
        guard case .json(let identifier) = input.body else { preconditionFailure("the contract's only content type") }
        return await perform(failed: Operations.Unquarantine.Output.default) {
            .unquarantine(try .with {
                $0.site = try Self.site(input.path.site)
                $0.identifier = identifier.wire
            })
        } answer: { body throws(QueryFailure) in
            guard case .unquarantine(let repair) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(repair))))
        }
    }

    func forget(_ input: Operations.Forget.Input) async throws -> Operations.Forget.Output {
        guard case .json(let identifier) = input.body else { preconditionFailure("the contract's only content type") }
        return await perform(failed: Operations.Forget.Output.default) {
            .forget(try .with {
                $0.site = try Self.site(input.path.site)
                $0.identifier = identifier.wire
            })
        } answer: { body throws(QueryFailure) in
            guard case .forget(let erasure) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(erasure))))
        }
    }

    func getPool(_ input: Operations.GetPool.Input) async throws -> Operations.GetPool.Output {
        await perform(failed: Operations.GetPool.Output.default) {
            .poolGet(try .with { $0.site = try Self.site(input.path.site) })
        } answer: { body throws(QueryFailure) in
            guard case .poolGet(let pool) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(pool))))
        }
    }

    func setPool(_ input: Operations.SetPool.Input) async throws -> Operations.SetPool.Output {
        guard case .json(let pool) = input.body else { preconditionFailure("the contract's only content type") }
        return await perform(failed: Operations.SetPool.Output.default) {
            .poolSet(try .with {
                $0.site = try Self.site(input.path.site)
                $0.pool = pool.wire
            })
        } answer: { body throws(QueryFailure) in
            guard case .poolSet(let stored) = body else { throw Self.unexpected(body) }
            return .ok(.init(body: .json(.init(stored))))
        }
    }

    // MARK: The one path

    /// Authenticates the caller, builds the request, has the service answer
    /// it, and converts the answer; every failure on the way becomes the
    /// contract's error with its HTTP status.
    private func perform<Output>(
        minPosition: String? = nil,
        failed: (Int, Components.Responses._Error) -> Output,
        request: () throws -> Stitch_V1_Request.OneOf_Kind,
        answer: (Stitch_V1_Response.OneOf_Kind) throws(QueryFailure) -> Output
    ) async -> Output {
        let caller = APICaller.current
        do throws(QueryFailure) {
            try Self.checkLoopbackHost(caller, authority: service.authority)
            let access: QueryAccess
            switch service.authority.authenticate(token: caller.token, remote: caller.remote) {
            case .success(let granted): access = granted
            case .failure(let failure):
                service.metrics.counter(.helloFailures).increment()
                throw failure
            }
            let kind: Stitch_V1_Request.OneOf_Kind
            do {
                kind = try request()
            } catch let failure as QueryFailure {
                throw failure
            } catch {
                throw QueryFailure(.invalidArgument, "\(error)")
            }
            let position = try minPosition.map(Self.logPosition)
            let body = await service.answer(
                kind, access: access, token: caller.token, minPosition: position, eventLoop: eventLoops.any())
            if case .error(let error) = body { throw QueryFailure(error.code, error.message) }
            return try answer(body)
        } catch {
            return failed(error.httpStatus, .init(body: .json(.init(error))))
        }
    }

    /// Without tokens, loopback callers are admin. A web page elsewhere must
    /// not borrow that through the operator's browser by a host name that
    /// resolves to 127.0.0.1 (DNS rebinding): then the request must name a
    /// loopback host.
    static func checkLoopbackHost(_ caller: APICaller, authority: TokenAuthority) throws(QueryFailure) {
        guard authority.loopbackOnly else { return }
        var host = caller.host ?? ""
        if host.hasPrefix("[") {
            host = String(host.dropFirst().prefix { $0 != "]" })
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        guard TokenAuthority.isLoopback(host: host) else {
            throw QueryFailure(
                .permissionDenied,
                "this server has no tokens, so only loopback callers may ask, naming a loopback host (Host: \(caller.host ?? "none")); set `tokens` to serve others")
        }
    }

    private static func site(_ site: Int32) throws(QueryFailure) -> UInt32 {
        guard site > 0 else { throw QueryFailure(.invalidArgument, "site must be 1 or more") }
        return UInt32(site)
    }

    private static func personRef(kind: Components.Schemas.IdentifierKind?, value: String?, namespace: String?, personID: Int64?)
        throws(QueryFailure) -> Stitch_V1_PersonRef
    {
        switch (kind, value, personID) {
        case (let kind?, let value?, nil):
            return .with { $0.identifier = Components.Schemas.Identifier(kind: kind, value: value, namespace: namespace).wire }
        case (nil, nil, let id?) where id > 0:
            return .with { $0.personID = UInt64(id) }
        default:
            throw QueryFailure(.invalidArgument, "give kind and value, or person_id (1 or more)")
        }
    }

    /// `PARTITION:SEQUENCE`, as an ack's position prints.
    private static func logPosition(_ text: String) throws(QueryFailure) -> Stitch_V1_LogPosition {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let partition = UInt32(parts[0]), let sequence = UInt64(parts[1]) else {
            throw QueryFailure(.invalidArgument, "min_position: PARTITION:SEQUENCE, e.g. 0:1234")
        }
        return .with {
            $0.partition = partition
            $0.sequence = sequence
        }
    }

    private static func unexpected(_ body: Stitch_V1_Response.OneOf_Kind) -> QueryFailure {
        QueryFailure(.internal, "the executor answered with another kind (\(body))")
    }
}

/// The HTTP request behind one JSON API call: what the generated routing
/// does not pass to handlers.
struct APICaller: Sendable {
    /// The bearer token; empty when none was sent (loopback mode).
    var token: String
    var remote: SocketAddress?
    /// The request's Host (its authority).
    var host: String?

    @TaskLocal static var current = APICaller(token: "", remote: nil, host: nil)
}

extension Data {
    /// RFC 4648 §5 without padding: history cursors in a query string.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
