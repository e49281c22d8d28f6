import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StitchHooks
import StitchServer
import StitchWire
import StitchTesting
import Testing

/// Webhooks through a real server: mapped by their adapters, stored through
/// the collector's path, answered after the commit; retries stored once; the
/// joins they exist for (a Jivo chat to the tracker's visitor, a Zadarma call
/// to the session shown its number); refusals counted.
@Suite("Webhooks over HTTP")
struct WebhookServerTests {
    static let zadarmaSecret = "zd-secret-1"

    static func server(directory: TemporaryDirectory? = nil) async throws -> TestServer {
        try await TestServer(directory: directory) {
            $0.numberPools = try! CallTrackingServerTests.pools()
            $0.webhooks = try! WebhookSettings.parse(#"""
                {"1": {"jivo": {"token": "jivo-1"}, "zadarma": {"secret": "zd-secret-1", "utc_offset_minutes": 180},
                       "deals": {"token": "deals-1"}}}
                """#)
        }
    }

    static func post(_ server: TestServer, _ pathAndQuery: String, _ body: String, headers: [String: String] = [:]) async throws
        -> (status: Int, body: String)
    {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.ports.intake)\(pathAndQuery)")!)
        request.httpMethod = "POST"
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    static func outcome(_ server: TestServer, _ provider: String, _ outcome: String) -> UInt64 {
        ResourceBoundsTests.counter(server, "stitch_webhooks_total{outcome=\"\(outcome)\",provider=\"\(provider)\"}")
            + ResourceBoundsTests.counter(server, "stitch_webhooks_total{provider=\"\(provider)\",outcome=\"\(outcome)\"}")
    }

    @Test("a Jivo chat whose user_token is the tracker's cookie joins the visitor; its retry is stored once, after a restart too")
    func jivoJoinsVisitor() async throws {
        let server = try await Self.server()
        let ingest = try await server.ingestClient()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await ingest.send([Beacons.hit(timeMs: now, cookie: "v.jivo-visitor-1", session: "s.jivo-session-1")], sequence: 1).get()
        let chat = #"""
            {"event_name": "chat_accepted", "widget_id": "8812", "user_token": "v.jivo-visitor-1", "chat_id": 501,
             "visitor": {"name": "Мария", "phone": "+7 916 555-77-01", "email": "", "number": "7001"},
             "session": {"utm_json": {"source": "yandex"}}, "page": {"url": "https://shop.example/"}}
            """#
        let first = try await Self.post(server, "/v1/hooks/jivo/1?token=jivo-1", chat, headers: ["Content-Type": "application/json"])
        #expect(first.status == 200 && first.body == #"{"result":"ok"}"#)
        let query = try await server.queryClient()
        let byCookie = try await query.lookup(site: 1, kind: .cookie, value: "v.jivo-visitor-1")
        let byPhone = try await query.lookup(site: 1, kind: .phone, value: "+7 916 555-77-01")
        let byChat = try await query.lookup(site: 1, kind: .chat, value: "7001", namespace: "jivo")
        #expect(byPhone.found && byChat.found)
        #expect(byPhone.person.personID == byCookie.person.personID && byChat.person.personID == byCookie.person.personID)
        #expect(byCookie.person.eventCount == 2)

        let retry = try await Self.post(server, "/v1/hooks/jivo/1?token=jivo-1", chat, headers: ["Content-Type": "application/json"])
        #expect(retry.status == 200)
        #expect(try await query.lookup(site: 1, kind: .cookie, value: "v.jivo-visitor-1").person.eventCount == 2)
        #expect(Self.outcome(server, "jivo", "stored") == 1 && Self.outcome(server, "jivo", "repeated") == 1)
        await query.close()
        await ingest.close()
        await server.stop()

        // chat_accepted carries no time: the retry after a restart is dated
        // anew, but its id comes from the request, so it is still a repeat.
        let restarted = try await Self.server(directory: server.directory)
        let late = try await Self.post(restarted, "/v1/hooks/jivo/1?token=jivo-1", chat, headers: ["Content-Type": "application/json"])
        #expect(late.status == 200)
        #expect(Self.outcome(restarted, "jivo", "repeated") == 1 && Self.outcome(restarted, "jivo", "stored") == 0)
        let again = try await restarted.queryClient()
        #expect(try await again.lookup(site: 1, kind: .cookie, value: "v.jivo-visitor-1").person.eventCount == 2)
        await again.close()
        await restarted.stopAndRemove()
    }

    @Test("a Zadarma call to a leased number is matched to the session that was shown it")
    func zadarmaCallMatchesLease() async throws {
        let server = try await Self.server()
        let ingest = try await server.ingestClient()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await ingest.send([Beacons.hit(timeMs: now - 60_000, cookie: "v.zd-visitor-1", session: "s.zd-session-1")], sequence: 1).get()
        let lease = try await HTTPIntakeTests.get(server, "/v1/lease?site=1&session=s.zd-session-1")
        let number = try #require((try JSONSerialization.jsonObject(with: lease.body) as? [String: Any])?["tracking_number"] as? String)
        _ = try await ingest.send([CallTrackingServerTests.shown(session: "s.zd-session-1", cookie: "v.zd-visitor-1", at: now - 50_000, number: number)], sequence: 2).get()

        // Zadarma writes the start in the account's zone (+03:00 here), digits only in its numbers.
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(secondsFromGMT: 180 * 60)
        let start = formatter.string(from: Date(timeIntervalSince1970: Double(now - 20_000) / 1000))
        let caller = "79165557702", called = String(number.dropFirst())
        let form = "event=NOTIFY_END&call_start=\(start.replacingOccurrences(of: " ", with: "+"))&pbx_call_id=in_zd_1&caller_id=\(caller)&called_did=\(called)&internal=101&duration=95&disposition=answered&status_code=16&is_recorded=0"
        let signature = ZadarmaAdapter.signature(callerID: caller, calledDID: called, callStart: start, secret: Self.zadarmaSecret)
        let answer = try await Self.post(server, "/v1/hooks/zadarma/1", form, headers: ["Signature": signature, "Content-Type": "application/x-www-form-urlencoded"])
        #expect(answer.status == 200)
        let query = try await server.queryClient()
        let byCaller = try await query.lookup(site: 1, kind: .phone, value: "+" + caller)
        let bySession = try await query.lookup(site: 1, kind: .session, value: "s.zd-session-1")
        #expect(byCaller.found && byCaller.person.personID == bySession.person.personID)
        #expect(ResourceBoundsTests.counter(server, "stitch_calls_total{match=\"session\"}") == 1)

        // A forged one: refused and counted, nothing stored.
        let forged = try await Self.post(server, "/v1/hooks/zadarma/1", form.replacingOccurrences(of: caller, with: "79165557703"), headers: ["Signature": signature])
        #expect(forged.status == 403)
        #expect(try await !query.lookup(site: 1, kind: .phone, value: "+79165557703").found)
        #expect(Self.outcome(server, "zadarma", "forbidden") == 1)
        // Zadarma's URL check.
        let (echo, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.ports.intake)/v1/hooks/zadarma/1?zd_echo=chk42")!)
        #expect(String(decoding: echo, as: UTF8.self) == "chk42")
        await query.close()
        await ingest.close()
        await server.stopAndRemove()
    }

    @Test("refusals: unknown provider or site 404, no credentials 401, bad body 400, unknown event 200; all counted")
    func refusals() async throws {
        let server = try await Self.server()
        #expect(try await Self.post(server, "/v1/hooks/mango/1/events/summary", "json={}").status == 404)
        #expect(try await Self.post(server, "/v1/hooks/jivo/2?token=jivo-1", "{}").status == 404)
        #expect(try await Self.post(server, "/v1/hooks/jivo/1", "{}").status == 401)
        #expect(try await Self.post(server, "/v1/hooks/jivo/1?token=jivo-1", "not json").status == 400)
        let unknown = try await Self.post(server, "/v1/hooks/jivo/1?token=jivo-1", #"{"event_name": "client_updated", "client_id": 5}"#)
        #expect(unknown.status == 200 && unknown.body == #"{"result":"ok"}"#)
        let deal = #"{"crm":"bitrix24","deal_id":"D-1","status":"won","revenue":100,"time_ms":\#(Int64(Date().timeIntervalSince1970 * 1000)),"contact":{"phones":["+7 903 700-00-09"]}}"#
        #expect(try await Self.post(server, "/v1/hooks/deals/1", deal, headers: ["Authorization": "Bearer deals-1"]).status == 200)
        #expect(ResourceBoundsTests.counter(server, "stitch_intake_refused_total") == 4)
        #expect(Self.outcome(server, "jivo", "skipped") == 1 && Self.outcome(server, "jivo", "malformed") == 1)
        #expect(Self.outcome(server, "jivo", "unauthenticated") == 1 && Self.outcome(server, "deals", "stored") == 1)
        await server.stopAndRemove()
    }

    @Test("a RetailCRM order whose custom field holds the tracker's visitor id lands in that visitor's person, its revenue credited to the visitor's ad")
    func retailCRMOrderJoinsTheVisitor() async throws {
        let server = try await TestServer {
            $0.webhooks = try! WebhookSettings.parse(#"{"1": {"retailcrm": {"token": "retail-1"}}}"#)
        }
        let visitor = "c0ffee00retail0000000009", t = Int64(1_795_430_000_000)
        let ingest = try await server.ingestClient()
        var visit = Beacons.hit(timeMs: t, cookie: visitor, session: "session-retail-9")
        visit.visit = .with {
            $0.utmSource = "yandex"
            $0.utmMedium = "cpc"
            $0.utmCampaign = "sofas"
            $0.landingURL = "https://shop.example/?utm_source=yandex"
        }
        #expect(try await ingest.send([visit], sequence: 1).get().ack?.accepted == 1)
        await ingest.close()
        let order = #"{"order": {"id": 9001, "number": "9001A", "status": "complete", "status_group": "complete", "total": "15990", "#
            + #""currency": "RUB", "updated_at": "1795433600", "customer_id": 501, "phones": [], "emails": [], "visitor_id": "\#(visitor)"}}"#
        #expect(try await Self.post(server, "/v1/hooks/retailcrm/1?token=retail-1", order).status == 200)
        #expect(try await Self.post(server, "/v1/hooks/retailcrm/1?token=retail-1", order).status == 200, "a trigger's retry")
        #expect(Self.outcome(server, "retailcrm", "stored") == 1 && Self.outcome(server, "retailcrm", "repeated") == 1)
        let query = try await server.queryClient()
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, visitor)
            $0.types = [.deal]
            $0.conversions = true
        })
        let deal = try #require(history.events.first)
        #expect(deal.beacon.deal.dealID == "9001" && deal.beacon.deal.status == .won)
        #expect(deal.conversion.credits.map(\.source.source) == ["yandex"] && deal.conversion.credits.first?.revenueMinor == 1_599_000)
        await query.close()
        await server.stopAndRemove()
    }

    @Test("an amoCRM status change naming only its lead reaches the person the lead was made for; an unknown or erased one is refused")
    func amoStatusByDeal() async throws {
        let server = try await TestServer {
            $0.webhooks = try! WebhookSettings.parse(#"{"1": {"amocrm": {"token": "amo-1", "currency": "RUB"}}}"#)
        }
        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        let add = "leads[add][0][id]=31926529&leads[add][0][status_id]=10216993&leads[add][0][price]=48900.50"
            + "&leads[add][0][date_create]=1795520000&contacts[add][0][id]=7700431"
            + "&contacts[add][0][custom_fields][0][code]=PHONE&contacts[add][0][custom_fields][0][values][0][value]=%2B79165551234"
        #expect(try await Self.post(server, "/v1/hooks/amocrm/1?token=amo-1", add, headers: form).status == 200)
        func won(_ lead: String, at seconds: Int) -> String {
            "leads[status][0][id]=\(lead)&leads[status][0][status_id]=142&leads[status][0][price]=48900.50&leads[status][0][last_modified]=\(seconds)"
        }
        #expect(try await Self.post(server, "/v1/hooks/amocrm/1?token=amo-1", won("31926529", at: 1_795_529_400), headers: form).status == 200)
        #expect(Self.outcome(server, "amocrm", "stored") == 2)

        let query = try await server.queryClient()
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.phone, "+79165551234")
            $0.limit = 10
        })
        #expect(history.events.map(\.beacon.deal.status) == [.open, .won], "the won lead is in its contact's history")
        #expect(history.events.last?.beacon.identifiers.map(\.value) == ["amocrm:7700431"], "stored with the contact it was found by")

        // A lead never seen with a contact reaches no one: refused, counted.
        #expect(try await Self.post(server, "/v1/hooks/amocrm/1?token=amo-1", won("999", at: 1_795_529_500), headers: form).status == 200)
        #expect(Self.outcome(server, "amocrm", "refused") == 1)
        // Erasing the contact erases what the directory knew of its deals.
        _ = try await query.forget(site: 1, identifier: Beacons.identifier(.phone, "+79165551234"))
        #expect(try await Self.post(server, "/v1/hooks/amocrm/1?token=amo-1", won("31926529", at: 1_795_529_600), headers: form).status == 200)
        #expect(Self.outcome(server, "amocrm", "refused") == 2)
        await query.close()
        await server.stopAndRemove()
    }
}
