import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import StitchAPI
@testable import StitchServer
import StitchClient
import StitchLoad
import StitchTesting
import StitchWire
import SwiftProtobuf
import Testing

/// The JSON API (`/api/v1/` on the internal port) against a real server:
/// the same answers as the binary protocol, its access rules, and its
/// errors as the contract writes them.
@Suite("JSON query API", .serialized)
struct QueryAPITests {
    /// One answer of the JSON API: its status and its body parsed.
    struct Answer {
        var status: Int
        var json: Any
        var headers: HTTPHeaders

        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    static func call(
        _ path: String, method: HTTPMethod = .GET, port: Int, token: String? = nil, body: Any? = nil, rawBody: [UInt8]? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        } else if let rawBody {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: rawBody))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let json = bytes.readableBytes == 0
            ? [String: Any]() : try JSONSerialization.jsonObject(with: Data(buffer: bytes), options: [.fragmentsAllowed])
        return Answer(status: Int(response.status.code), json: json, headers: response.headers)
    }

    /// The contract's name of a protobuf enum value: its protobuf JSON name
    /// without the type's prefix, lower-cased (`CHANNEL_PAID_SEARCH` →
    /// `paid_search`).
    static func contractName(_ protoJSON: String, prefix: String) -> String {
        String(protoJSON.dropFirst(prefix.count)).lowercased()
    }

    static func protoJSON(_ message: some SwiftProtobuf.Message) throws -> [String: Any] {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        let text = try message.jsonString(options: options)
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    static func identifierKind(_ kind: Stitch_V1_IdentifierKind) throws -> String {
        let json = try protoJSON(Stitch_V1_Identifier.with {
            $0.kind = kind
            $0.value = "x"
        })
        return contractName(json["kind"] as? String ?? "", prefix: "IDENTIFIER_KIND_")
    }

    static func eventType(_ type: Stitch_V1_EventType) throws -> String {
        let json = try protoJSON(Stitch_V1_EventCount.with { $0.type = type })
        return contractName(json["type"] as? String ?? "", prefix: "EVENT_TYPE_")
    }

    /// A seeded world stored through the collector, with its pools declared.
    static func seededServer(_ name: String, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws
        -> (TestServer, World)
    {
        var random = SeededGenerator.forTest(name)
        var parameters = World.Parameters()
        parameters.seed = random.next()
        parameters.sites = 1
        parameters.personsPerSite = 120
        parameters.days = 10
        parameters.weeklyCookiePercent = 20
        let world = World(parameters)
        let server = try await TestServer(configure)
        let query = try await server.queryClient()
        _ = try await query.request(.poolSet(.with {
            $0.site = 1
            $0.pool = World.pool(site: 1)
        }))
        await query.close()
        let ingest = try await server.ingestClient()
        var sequence: UInt64 = 1
        for chunk in stride(from: 0, to: world.events.count, by: 200) {
            let beacons = world.events[chunk..<min(chunk + 200, world.events.count)].map(\.beacon)
            _ = try await ingest.send(Array(beacons), sequence: sequence).get()
            sequence += 1
        }
        await ingest.close()
        return (server, world)
    }

    @Test("for a seeded world, lookupPerson and personHistory over HTTP give exactly what the binary protocol gives")
    func sameAnswersAsTheBinaryProtocol() async throws {
        let (server, world) = try await Self.seededServer("sameAnswersAsTheBinaryProtocol")
        let query = try await server.queryClient()
        var probes: [Stitch_V1_Identifier] = []
        var seen = Set<String>()
        for event in world.events {
            for identifier in event.beacon.identifiers where identifier.kind != .session {
                if seen.insert("\(identifier.kind.rawValue):\(identifier.value)").inserted { probes.append(identifier) }
            }
            if probes.count >= 40 { break }
        }
        #expect(probes.count >= 20)
        var comparedEvents = 0
        var refused = 0
        for probe in probes {
            var path = "/api/v1/sites/1/person?kind=\(try Self.identifierKind(probe.kind))"
                + "&value=\(probe.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&include_identifiers=true"
            if !probe.namespace.isEmpty { path += "&namespace=\(probe.namespace)" }
            let answer = try await Self.call(path, port: server.ports.http)
            let binary: Stitch_V1_LookupResponse
            do {
                binary = try await query.lookup(
                    site: 1, kind: probe.kind, value: probe.value, namespace: probe.namespace, includeIdentifiers: true)
            } catch ClientError.server(let error) {
                // The world's junk values ("[object Object]"): refused alike.
                #expect(answer.status == 400, "\(probe): \(answer.json)")
                #expect(answer.object["message"] as? String == error.message)
                refused += 1
                continue
            }
            guard binary.found else {
                #expect(answer.status == 404, "\(probe): not found over both")
                continue
            }
            try #require(answer.status == 200, "\(probe): \(answer.json)")
            let person = answer.object
            #expect(person["person_id"] as? Int == Int(binary.person.personID))
            #expect(person["site"] as? Int == 1)
            #expect(person["identifier_count"] as? Int == Int(binary.person.identifierCount))
            #expect(person["first_seen_ms"] as? Int == Int(binary.person.firstSeenMs))
            #expect(person["last_seen_ms"] as? Int == Int(binary.person.lastSeenMs))
            #expect(person["event_count"] as? Int == Int(binary.person.eventCount))
            let counts = person["event_counts"] as? [String: Int] ?? [:]
            #expect(counts.count == binary.person.eventCounts.count)
            for count in binary.person.eventCounts {
                #expect(counts[try Self.eventType(count.type)] == Int(count.count))
            }
            let identifiers = person["identifiers"] as? [[String: Any]] ?? []
            #expect(identifiers.count == binary.person.identifiers.count)
            for (json, stored) in zip(identifiers, binary.person.identifiers) {
                #expect(json["kind"] as? String == (try Self.identifierKind(stored.kind)))
                #expect(json["value"] as? String == stored.value)
                #expect(json["first_seen_ms"] as? Int == Int(stored.firstSeenMs))
                #expect(json["last_seen_ms"] as? Int == Int(stored.lastSeenMs))
                #expect(json["quarantined"] as? Bool == stored.quarantined)
            }

            // Every page of the person's history, with conversions.
            var binaryCursor = Data()
            var jsonCursor = ""
            repeat {
                let page = try await query.history(.with {
                    $0.site = 1
                    $0.person.personID = binary.person.personID
                    $0.limit = 40
                    $0.cursor = binaryCursor
                    $0.conversions = true
                    $0.newestFirst = true
                })
                var historyPath = "/api/v1/sites/1/persons/\(binary.person.personID)/history?limit=40&conversions=true&newest_first=true"
                if !jsonCursor.isEmpty { historyPath += "&cursor=\(jsonCursor)" }
                let jsonPage = try await Self.call(historyPath, port: server.ports.http)
                try #require(jsonPage.status == 200, "\(jsonPage.json)")
                let events = jsonPage.object["events"] as? [[String: Any]] ?? []
                #expect(events.count == page.events.count)
                for (json, event) in zip(events, page.events) {
                    try Self.expectSame(json, event)
                    comparedEvents += 1
                }
                binaryCursor = page.nextCursor
                jsonCursor = jsonPage.object["next_cursor"] as? String ?? ""
                #expect(jsonCursor.isEmpty == binaryCursor.isEmpty)
            } while !binaryCursor.isEmpty
        }
        #expect(comparedEvents > 200, "the world's histories were compared event by event")
        #expect(refused < probes.count / 2)
        await query.close()
        await server.stopAndRemove()
    }

    /// JSON text with sorted keys: equal for equal JSON values.
    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// One event as JSON against the same event over the binary protocol.
    static func expectSame(_ json: [String: Any], _ event: Stitch_V1_Event) throws {
        #expect(json["seq"] as? Int == Int(event.seq))
        #expect(json["time_ms"] as? Int == Int(event.beacon.timeMs))
        #expect(json["received_ms"] as? Int == Int(event.receivedMs))
        #expect(json["event_id"] as? String == (event.beacon.eventID == 0 ? nil : String(event.beacon.eventID)))
        let identifiers = json["identifiers"] as? [[String: Any]] ?? []
        #expect(identifiers.map { $0["value"] as? String ?? "" } == event.beacon.identifiers.map(\.value))
        #expect(try identifiers.map { $0["kind"] as? String ?? "" } == event.beacon.identifiers.map { try identifierKind($0.kind) })
        // The body: the beacon's body message in protobuf's JSON mapping.
        let beacon = try protoJSON(event.beacon)
        let bodyKeys = ["visit", "hit", "number_shown", "form", "call", "chat", "deal"]
        let typeName = try #require(bodyKeys.first { beacon[$0] != nil }, "a stored beacon has a body")
        #expect(json["type"] as? String == typeName)
        #expect(try canonical(json["body"] ?? [:]) == (try canonical(beacon[typeName] ?? [:])))
        if event.hasCallMatch {
            let match = json["call_match"] as? [String: Any] ?? [:]
            let expected = try protoJSON(event.callMatch)
            #expect(match["kind"] as? String == contractName(expected["kind"] as? String ?? "", prefix: "CALL_MATCH_KIND_"))
            #expect(match["session"] as? String == (event.callMatch.session.isEmpty ? nil : event.callMatch.session))
        } else {
            #expect(json["call_match"] == nil)
        }
        if event.hasConversion {
            let conversion = json["conversion"] as? [String: Any] ?? [:]
            #expect(conversion["unique"] as? Bool == event.conversion.unique)
            #expect(conversion["target"] as? Bool == event.conversion.target)
            let credits = conversion["credits"] as? [[String: Any]] ?? []
            #expect(credits.count == event.conversion.credits.count)
            for (credit, expected) in zip(credits, event.conversion.credits) {
                #expect(credit["weight"] as? Double == expected.weight)
                #expect(credit["visit_seq"] as? Int == Int(expected.visitSeq))
                let source = credit["source"] as? [String: Any] ?? [:]
                #expect(source["source"] as? String == (expected.source.source.isEmpty ? nil : expected.source.source))
            }
        } else {
            #expect(json["conversion"] == nil)
        }
    }

    @Test("tokens and site grants apply as on the binary protocol; errors are the contract's JSON with mapped statuses")
    func accessAndErrors() async throws {
        let server = try await TestServer { configuration in
            configuration.tokens = [
                TokenGrant(token: "admin-secret", sites: [], name: "ops"),
                TokenGrant(token: "reader-secret", sites: [1], name: "reports"),
            ]
        }
        try await server.pageView(session: "sess-api-1", cookie: "cookie-api-1")
        let port = server.ports.http
        let path = "/api/v1/sites/1/person?kind=cookie&value=cookie-api-1"

        let anonymous = try await Self.call(path, port: port)
        #expect(anonymous.status == 401)
        #expect(anonymous.object["code"] as? String == "UNAUTHENTICATED")
        #expect(try await Self.call(path, port: port, token: "wrong").status == 401)

        let found = try await Self.call(path, port: port, token: "reader-secret")
        #expect(found.status == 200)
        #expect(found.object["identifier_count"] as? Int == 2)
        #expect(found.headers["Content-Type"].first == "application/json; charset=utf-8")

        let otherSite = try await Self.call("/api/v1/sites/2/person?kind=cookie&value=x", port: port, token: "reader-secret")
        #expect(otherSite.status == 403)
        #expect(otherSite.object["code"] as? String == "PERMISSION_DENIED")

        let info = try await Self.call("/api/v1/token", port: port, token: "reader-secret")
        #expect(info.object["name"] as? String == "reports")
        #expect(info.object["admin"] as? Bool == false)
        #expect(info.object["sites"] as? [Int] == [1])

        // Admin operations need an admin token.
        let refused = try await Self.call("/api/v1/sites/1/forget", method: .POST, port: port, token: "reader-secret", body: ["kind": "cookie", "value": "cookie-api-1"])
        #expect(refused.status == 403)
        #expect(try await Self.call(path, port: port, token: "admin-secret").status == 200, "nothing was erased")
        let stats = try await Self.call("/api/v1/stats", port: port, token: "reader-secret")
        #expect(stats.status == 403)
        let adminStats = try await Self.call("/api/v1/stats", port: port, token: "admin-secret")
        #expect(adminStats.status == 200)
        #expect(adminStats.object["events"] as? Int == 1)

        // Refused by the contract or the normalizer: 400, never 500.
        for bad in [
            "/api/v1/sites/abc/person?person_id=1", "/api/v1/sites/1/person", "/api/v1/sites/1/person?kind=phone&value=12",
            "/api/v1/sites/1/person?kind=nonsense&value=x", "/api/v1/sites/1/persons/1/history?cursor=!!",
            "/api/v1/sites/1/person?person_id=1&min_position=zz",
        ] {
            let answer = try await Self.call(bad, port: port, token: "admin-secret")
            #expect(answer.status == 400, "\(bad): \(answer.json)")
            #expect(answer.object["code"] as? String == "INVALID_ARGUMENT", "\(bad)")
        }
        let malformed = try await Self.call("/api/v1/sites/1/persons/batch-lookup", method: .POST, port: port, token: "admin-secret", rawBody: Array("{\"identifiers\": 7".utf8))
        #expect(malformed.status == 400)
        #expect(ResourceBoundsTests.counter(server, "stitch_query_errors_total{type=\"api\",code=\"invalid_argument\"") >= 3,
                "refusals before any operation ran are counted")
        let tooLarge = try await Self.call("/api/v1/sites/1/persons/batch-lookup", method: .POST, port: port, token: "admin-secret",
            rawBody: [UInt8](repeating: UInt8(ascii: " "), count: InternalHTTP.bodyBytesMax + 1))
        #expect(tooLarge.status == 413)
        let missing = try await Self.call("/api/v1/sites/1/person?person_id=999999", port: port, token: "admin-secret")
        #expect(missing.status == 404)
        #expect(missing.object["code"] as? String == "NOT_FOUND")
        let unknown = try await Self.call("/api/v1/nothing", port: port, token: "admin-secret")
        #expect(unknown.status == 404)
        #expect(unknown.object["code"] as? String == "NOT_FOUND")

        // Batch lookup: one bad entry fails alone.
        let batch = try await Self.call("/api/v1/sites/1/persons/batch-lookup", method: .POST, port: port, token: "reader-secret",
            body: ["identifiers": [["kind": "cookie", "value": "cookie-api-1"], ["kind": "phone", "value": "12"], ["kind": "cookie", "value": "nobody"]]])
        let results = batch.object["results"] as? [[String: Any]] ?? []
        #expect(results.map { $0["found"] as? Bool } == [true, false, false])
        #expect((results[1]["error"] as? [String: Any])?["code"] as? String == "INVALID_ARGUMENT")
        await server.stopAndRemove()
    }

    @Test("without tokens, loopback callers are admin only when they name a loopback host (no DNS rebinding)")
    func loopbackModeNeedsALoopbackHost() async throws {
        let server = try await TestServer()
        let rebound = try await MetricsEndpointTests.rawGetOffPool(
            "/api/v1/sites/1/person?person_id=1", port: server.ports.http, headers: ["Host": "attacker.example:\(server.ports.http)"])
        #expect(rebound.status == 403, "\(String(decoding: rebound.body, as: UTF8.self))")
        let named = try await MetricsEndpointTests.rawGetOffPool(
            "/api/v1/sites/1/person?person_id=1", port: server.ports.http, headers: ["Host": "localhost:\(server.ports.http)"])
        #expect(named.status == 404, "a loopback host reaches the store (no person 1 there)")
        await server.stopAndRemove()
    }

    @Test("an admin quarantine over the API splits a glued person; the graph and the change feed show it")
    func quarantineSplits() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        // Two visitors glued by one shared phone (a shop's front desk).
        let base: Int64 = 1_767_225_600_000
        _ = try await ingest.send([
            Beacons.form(timeMs: base, cookie: "cookie-anna", phone: "+7 916 000-00-01"),
            Beacons.form(timeMs: base + 60_000, cookie: "cookie-boris", phone: "+7 916 000-00-01"),
        ], sequence: 1).get()
        await ingest.close()
        let port = server.ports.http
        let glued = try await Self.call("/api/v1/sites/1/person?kind=cookie&value=cookie-anna", port: port)
        #expect(glued.object["identifier_count"] as? Int == 3)
        let person = try #require(glued.object["person_id"] as? Int)
        let graph = try await Self.call("/api/v1/sites/1/persons/\(person)/graph", port: port)
        #expect((graph.object["identifiers"] as? [Any])?.count == 3)
        #expect((graph.object["links"] as? [[String: Any]])?.count == 2)

        let explained = try await Self.call(
            "/api/v1/sites/1/explain?a_kind=cookie&a_value=cookie-anna&b_kind=cookie&b_value=cookie-boris", port: port)
        #expect(explained.object["verdict"] as? String == "linked")
        #expect((explained.object["steps"] as? [Any])?.count == 2)

        let repair = try await Self.call("/api/v1/sites/1/quarantine", method: .POST, port: port,
            body: ["kind": "phone", "value": "8 (916) 000 00 01", "reason": "front desk"])
        #expect(repair.status == 200, "\(repair.json)")
        #expect(repair.object["changed"] as? Bool == true)
        let anna = try await Self.call("/api/v1/sites/1/person?kind=cookie&value=cookie-anna", port: port)
        let boris = try await Self.call("/api/v1/sites/1/person?kind=cookie&value=cookie-boris", port: port)
        #expect(anna.object["person_id"] as? Int != boris.object["person_id"] as? Int)
        let annaID = try #require(anna.object["person_id"] as? Int)
        let refusals = try await Self.call("/api/v1/sites/1/persons/\(annaID)/graph", port: port).object["refusals"] as? [[String: Any]]
        #expect(refusals?.first?["reason"] as? String == "quarantined (manual: front desk)")
        let feed = try await Self.call("/api/v1/changes?site=1", port: port)
        let kinds = (feed.object["changes"] as? [[String: Any]] ?? []).map { $0["kind"] as? String ?? "" }
        #expect(kinds.contains("split"))
        await server.stopAndRemove()
    }

    @Test("every contract enum names the protobuf enum's cases in its order")
    func contractEnumsMirrorProtobuf() throws {
        for kind in Components.Schemas.IdentifierKind.allCases {
            #expect(try Self.identifierKind(Stitch_V1_IdentifierKind(rawValue: kind.protoValue)!) == kind.rawValue)
        }
        for type in Components.Schemas.EventType.allCases {
            #expect(try Self.eventType(Stitch_V1_EventType(rawValue: type.protoValue)!) == type.rawValue)
        }
        func check<E: ContractEnum & RawRepresentable>(_: E.Type, prefix: String, name: (Int) throws -> String) rethrows
            where E.RawValue == String
        {
            for value in E.allCases {
                #expect(try Self.contractName(name(value.protoValue), prefix: prefix) == value.rawValue, "\(E.self)")
            }
        }
        try check(Components.Schemas.Source.ChannelPayload.self, prefix: "CHANNEL_") { value in
            try Self.protoJSON(Stitch_V1_Source.with { $0.channel = .init(rawValue: value)! })["channel"] as? String ?? "CHANNEL_UNSPECIFIED"
        }
        try check(Components.Schemas.Source.KindPayload.self, prefix: "SOURCE_KIND_") { value in
            try Self.protoJSON(Stitch_V1_Source.with { $0.kind = .init(rawValue: value)! })["kind"] as? String ?? "SOURCE_KIND_UNSPECIFIED"
        }
        try check(Components.Schemas.CallMatch.KindPayload.self, prefix: "CALL_MATCH_KIND_") { value in
            try Self.protoJSON(Stitch_V1_CallMatch.with { $0.kind = .init(rawValue: value)! })["kind"] as? String ?? "CALL_MATCH_KIND_UNSPECIFIED"
        }
        try check(Components.Schemas.Lease.KindPayload.self, prefix: "LEASE_KIND_") { value in
            try Self.protoJSON(Stitch_V1_LeaseResponse.with { $0.kind = .init(rawValue: value)! })["kind"] as? String ?? "LEASE_KIND_UNSPECIFIED"
        }
        try check(Components.Schemas.Change.KindPayload.self, prefix: "CHANGE_KIND_") { value in
            try Self.protoJSON(Stitch_V1_Merge.with { $0.kind = .init(rawValue: value)! })["kind"] as? String ?? "CHANGE_KIND_MERGE"
        }
        try check(Components.Schemas.Change.ReasonPayload.self, prefix: "CHANGE_REASON_") { value in
            try Self.protoJSON(Stitch_V1_Merge.with { $0.reason = .init(rawValue: value)! })["reason"] as? String ?? "CHANGE_REASON_UNSPECIFIED"
        }
        try check(Components.Schemas.Explanation.VerdictPayload.self, prefix: "EXPLAIN_VERDICT_") { value in
            try Self.protoJSON(Stitch_V1_ExplainResponse.with { $0.verdict = .init(rawValue: value)! })["verdict"] as? String ?? ""
        }
        try check(Components.Schemas.AttributionModel.self, prefix: "ATTRIBUTION_MODEL_") { value in
            try Self.protoJSON(Stitch_V1_HistoryRequest.with { $0.model = .init(rawValue: value)! })["model"] as? String ?? ""
        }
    }
}
