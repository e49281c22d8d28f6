import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import StitchClient
@testable import StitchServer
import StitchHooks
import StitchWire
import Testing

/// A local stand-in for a Bitrix24 portal's inbound REST webhook: serves
/// `crm.lead.get`, `crm.deal.get`, `crm.contact.get` from a table, and can be
/// made to fail (HTTP 500) or hang past the client's timeout.
final class FakeBitrix24Portal: Sendable {
    enum Mode: Sendable { case normal, failing, hanging }

    let mode = NIOLockedValueBox(Mode.normal)
    let requests = NIOLockedValueBox(0)
    let port: Int
    private let task: Task<Void, any Error>

    /// `entities["crm.deal.get:21"]` is the JSON of deal 21's `result`.
    init(entities: [String: String]) async throws {
        let router = Router()
        let mode = self.mode, requests = self.requests
        router.get("/rest/1/secret/:method") { request, context in
            requests.withLockedValue { $0 += 1 }
            let method = (context.parameters.get("method") ?? "").replacingOccurrences(of: ".json", with: "")
            let id = request.uri.queryParameters["id"].map(String.init) ?? ""
            switch mode.withLockedValue({ $0 }) {
            case .failing:
                return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: #"{"error":"INTERNAL_SERVER_ERROR","error_description":"down for maintenance"}"#)))
            case .hanging:
                try await Task.sleep(for: .seconds(3))
            case .normal:
                break
            }
            let body = entities["\(method):\(id)"].map { #"{"result":\#($0)}"# } ?? #"{"error":"NOT_FOUND","error_description":"Not found"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        (port, task) = await ShopServer.serve(router)
    }

    var restURL: String { "http://127.0.0.1:\(port)/rest/1/secret/" }

    func stop() { task.cancel() }
}

@Suite("Bitrix24 leads and deals through a fetched portal")
struct Bitrix24ServerTests {
    static let entities = [
        "crm.lead.get:11": #"{"ID":"11","TITLE":"Sofa","STATUS_ID":"NEW","STATUS_SEMANTIC_ID":"P","CONTACT_ID":"501","UTM_SOURCE":"yandex","UTM_MEDIUM":"cpc","UTM_CAMPAIGN":"sofas","DATE_CREATE":"2026-11-20T14:00:00+03:00","DATE_MODIFY":"2026-11-20T14:00:00+03:00"}"#,
        "crm.contact.get:501": #"{"ID":"501","NAME":"Olga","PHONE":[{"ID":"9","VALUE_TYPE":"WORK","VALUE":"+7 916 888-77-66"}],"EMAIL":[]}"#,
        "crm.deal.get:21": #"{"ID":"21","LEAD_ID":"11","CONTACT_ID":"501","STAGE_ID":"WON","STAGE_SEMANTIC_ID":"S","OPPORTUNITY":"15000.00","CURRENCY_ID":"RUB","DATE_CREATE":"2026-11-21T10:00:00+03:00","DATE_MODIFY":"2026-11-22T10:00:00+03:00"}"#,
    ]

    static func configure(_ portal: FakeBitrix24Portal) -> @Sendable (inout ServerConfiguration) -> Void {
        let url = portal.restURL
        return {
            $0.webhooks = try! WebhookSettings.parse(#"{"1": {"bitrix24": {"application_token": "b24-app", "rest_url": "\#(url)"}}}"#)
            $0.bitrix24Timing = .init(
                requestTimeout: .milliseconds(800), backoffFirstMs: 200, backoffMaxMs: 400, attemptsMax: 1000,
                pollInterval: .milliseconds(50))
        }
    }

    static func event(_ name: String, id: String, token: String = "b24-app") -> String {
        "event=\(name)&data%5BFIELDS%5D%5BID%5D=\(id)&ts=1795600000&auth%5Bdomain%5D=shop.bitrix24.ru"
            + "&auth%5Bclient_endpoint%5D=https%3A%2F%2Fshop.bitrix24.ru%2Frest%2F&auth%5Bapplication_token%5D=\(token)"
    }

    static func post(_ server: TestServer, _ body: String) async throws -> Int {
        try await WebhookServerTests.post(server, "/v1/hooks/bitrix24/1", body, headers: ["Content-Type": "application/x-www-form-urlencoded"]).status
    }

    @Test("a lead fetched while the portal fails, then hangs, then answers; its deal joins the lead's person with the lead's source",
          .timeLimit(.minutes(2)))
    func leadThenDeal() async throws {
        let portal = try await FakeBitrix24Portal(entities: Self.entities)
        defer { portal.stop() }
        let server = try await TestServer(Self.configure(portal))
        let query = try await server.queryClient()
        #expect(try await Self.post(server, Self.event("ONCRMLEADADD", id: "11", token: "wrong")) == 403)
        #expect(try await Self.post(server, Self.event("ONCRMCONTACTUPDATE", id: "501")) == 200)

        portal.mode.withLockedValue { $0 = .failing }
        #expect(try await Self.post(server, Self.event("ONCRMLEADADD", id: "11")) == 200, "answered at once")
        try await eventually("retried after a failure") { ResourceBoundsTests.counter(server, #"stitch_webhook_fetches_total{provider="bitrix24",outcome="retried"}"#) >= 2 }
        portal.mode.withLockedValue { $0 = .hanging }
        let retried = ResourceBoundsTests.counter(server, #"stitch_webhook_fetches_total{provider="bitrix24",outcome="retried"}"#)
        try await eventually("retried after a timeout", seconds: 10) {
            ResourceBoundsTests.counter(server, #"stitch_webhook_fetches_total{provider="bitrix24",outcome="retried"}"#) > retried
        }
        #expect(!(try await query.lookup(site: 1, kind: .phone, value: "+79168887766").found), "nothing stored while the portal is down")
        portal.mode.withLockedValue { $0 = .normal }
        try await eventually("the lead stored once the portal answers", seconds: 20) {
            try await query.lookup(site: 1, kind: .phone, value: "+79168887766").found
        }

        #expect(try await Self.post(server, Self.event("ONCRMDEALADD", id: "21")) == 200)
        var deal: Stitch_V1_Event?
        try await eventually("the deal in the lead's person", seconds: 20) {
            deal = try await query.history(.with {
                $0.site = 1
                $0.person.identifier = Beacons.identifier(.phone, "+79168887766")
                $0.types = [.deal]
                $0.conversions = true
            }).events.first { $0.beacon.deal.dealID == "deal-21" }
            return deal != nil
        }
        #expect(deal?.beacon.deal.status == .won && deal?.beacon.deal.revenueMinor == 1_500_000)
        #expect(deal?.conversion.credits.map(\.source.source) == ["yandex"] && deal?.conversion.credits.first?.revenueMinor == 1_500_000)
        #expect(ResourceBoundsTests.counter(server, #"stitch_webhook_fetches_total{provider="bitrix24",outcome="stored"}"#) == 2)
        await query.close()
        await server.stopAndRemove()
    }

    @Test("a fetch pending at a stop is kept on disk and done after the restart", .timeLimit(.minutes(2)))
    func pendingSurvivesARestart() async throws {
        let portal = try await FakeBitrix24Portal(entities: Self.entities)
        defer { portal.stop() }
        portal.mode.withLockedValue { $0 = .failing }
        let first = try await TestServer(Self.configure(portal))
        #expect(try await Self.post(first, Self.event("ONCRMLEADADD", id: "11")) == 200)
        try await eventually("tried once") { portal.requests.withLockedValue { $0 } >= 1 }
        await first.stop()
        let kept = try String(contentsOfFile: first.configuration.dataDirectory + "/" + Bitrix24Fetcher.fileName, encoding: .utf8)
        #expect(kept.contains(#""id":"11""#), "\(kept)")

        portal.mode.withLockedValue { $0 = .normal }
        let second = try await TestServer(directory: first.directory, Self.configure(portal))
        let query = try await second.queryClient()
        try await eventually("the lead stored after the restart", seconds: 20) {
            try await query.lookup(site: 1, kind: .phone, value: "+79168887766").found
        }
        await query.close()
        await second.stopAndRemove()
    }
}
