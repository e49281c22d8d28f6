import Foundation
@testable import StitchHooks
import StitchWire
import Testing

@Suite("CRM webhooks (amoCRM, generic deals)")
struct CRMAdapterTests {
    let amo = AmoCRMAdapter(token: "amo-secret", currency: "RUB")

    func amoRequest(_ body: [UInt8], token: String = "amo-secret") -> WebhookRequest {
        WebhookRequest(query: ["token": token], body: body)
    }

    @Test("an amoCRM lead with its contact: a Deal under the contact, its phone and e-mail")
    func amoLeadAdd() throws {
        guard case .store(let beacons, _) = amo.verdict(for: amoRequest(Payload.bytes("amocrm-lead-add.form")), site: 3, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        let beacon = try #require(beacons.first)
        #expect(beacons.count == 1)
        #expect(beacon.deal.crm == "amocrm")
        #expect(beacon.deal.dealID == "31926529")
        #expect(beacon.deal.contactID == "7700431")
        #expect(beacon.deal.status == .open)
        #expect(beacon.deal.revenueMinor == 4_890_000)
        #expect(beacon.deal.currency == "RUB")
        #expect(beacon.timeMs == 1_795_443_000_000)
        #expect(beacon.identifiers.map(\.kind) == [.phone, .email])
        #expect(beacon.identifiers.map(\.value) == ["+7 916 555-12-34", "maria.petrova@example.ru"])
    }

    @Test("a status change is won/lost under its contact; one that names none goes by its deal id alone")
    func amoStatus() throws {
        var fields = Payload.text("amocrm-lead-won.form")
        guard case .store(let byDeal, _) = amo.verdict(for: amoRequest(Array(fields.utf8)), site: 3, receivedMs: Payload.receivedMs) else {
            Issue.record("a deal without a contact was not stored")
            return
        }
        #expect(byDeal[0].deal.contactID.isEmpty && byDeal[0].identifiers.isEmpty)
        #expect(byDeal[0].deal.dealID == "31926529" && byDeal[0].deal.status == .won)
        fields += "&leads%5Bstatus%5D%5B0%5D%5Bmain_contact_id%5D=7700431"
        guard case .store(let beacons, _) = amo.verdict(for: amoRequest(Array(fields.utf8)), site: 3, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        #expect(beacons[0].deal.status == .won)
        #expect(beacons[0].deal.revenueMinor == 4_890_050)
        #expect(beacons[0].deal.contactID == "7700431")
        let lost = "leads[delete][0][id]=9&leads[delete][0][main_contact_id]=5"
        guard case .store(let deleted, _) = amo.verdict(for: amoRequest(Array(lost.utf8)), site: 3, receivedMs: Payload.receivedMs) else { return }
        #expect(deleted[0].deal.status == .deleted)
        #expect(deleted[0].timeMs == 1_795_437_000_000)  // undated: first seen
    }

    @Test("amoCRM without the URL's token is 401, with a wrong one 403")
    func amoRefusals() {
        #expect(isUnauthenticated(amo.verdict(for: WebhookRequest(body: Payload.bytes("amocrm-lead-add.form")), site: 3, receivedMs: Payload.receivedMs)))
        #expect(isForbidden(amo.verdict(for: amoRequest(Payload.bytes("amocrm-lead-add.form"), token: "nope"), site: 3, receivedMs: Payload.receivedMs)))
    }

    let deals = DealAdapter(token: "deal-secret")

    @Test("a generic deal: status, revenue in minor units, the contact's id and phone; its event_id names the change")
    func genericDeal() throws {
        let request = WebhookRequest(headers: ["Authorization": "Bearer deal-secret"], body: Payload.bytes("deal-won.json"))
        guard case .store(let beacons, _) = deals.verdict(for: request, site: 3, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        let beacon = try #require(beacons.first)
        #expect(beacon.deal.crm == "bitrix24")
        #expect(beacon.deal.status == .won)
        #expect(beacon.deal.revenueMinor == 1_500_050)
        #expect(beacon.deal.contactID == "C-88")
        #expect(beacon.identifiers.map(\.value) == ["8 (903) 700-11-22"])
        #expect(beacon.timeMs == 1_795_531_000_000)
        // The same change re-sent with other whitespace is the same event.
        let reformatted = WebhookRequest(headers: ["Authorization": "Bearer deal-secret"], body: Array(Payload.text("deal-won.json").replacingOccurrences(of: "\n", with: " ").utf8))
        guard case .store(let again, _) = deals.verdict(for: reformatted, site: 3, receivedMs: Payload.receivedMs) else { return }
        #expect(again[0].eventID == beacon.eventID)
    }

    @Test("a generic deal without auth, status, time or contact is refused with the reason")
    func genericDealRefusals() {
        func verdict(_ json: String, auth: String? = "Bearer deal-secret") -> WebhookVerdict {
            deals.verdict(for: WebhookRequest(headers: auth.map { ["Authorization": $0] } ?? [:], body: Array(json.utf8)), site: 3, receivedMs: Payload.receivedMs)
        }
        let good = #"{"crm":"x","deal_id":"1","status":"won","time_ms":1795531000000,"contact":{"id":"7"}}"#
        if case .store = verdict(good) {} else { Issue.record("a good deal was not stored") }
        #expect(isUnauthenticated(verdict(good, auth: nil)))
        #expect(isForbidden(verdict(good, auth: "Bearer nope")))
        #expect(isMalformed(verdict(#"{"crm":"x","deal_id":"1","status":"maybe","time_ms":1,"contact":{"id":"7"}}"#)))
        #expect(isMalformed(verdict(#"{"crm":"x","deal_id":"1","status":"won","contact":{"id":"7"}}"#)))
        #expect(isMalformed(verdict(#"{"crm":"x","deal_id":"1","status":"won","time_ms":1,"contact":{}}"#)))
        #expect(isMalformed(verdict(#"{"crm":"x","deal_id":"1","status":"won","time_ms":1,"revenue":"12,5","contact":{"id":"7"}}"#)))
    }

    @Test("decimal revenue to minor units")
    func minorUnits() {
        #expect(DealAdapter.minorUnits("15000.5") == 1_500_050)
        #expect(DealAdapter.minorUnits("15000") == 1_500_000)
        #expect(DealAdapter.minorUnits("0.07") == 7)
        #expect(DealAdapter.minorUnits("-3.10") == -310)
        #expect(DealAdapter.minorUnits("1.999") == nil)
        #expect(DealAdapter.minorUnits("abc") == nil)
    }

    @Test("the webhooks setting: every provider parsed, unknown ones and fields refused")
    func settings() throws {
        let sites = try WebhookSettings.parse(#"{"1": {"jivo": {"token": "a"}, "zadarma": {"secret": "b", "utc_offset_minutes": 180}, "mango": {"api_key": "c", "api_salt": "d"}, "amocrm": {"token": "e", "currency": "USD"}, "retailcrm": {"token": "g"}, "bitrix24": {"application_token": "h", "rest_url": "https://shop.bitrix24.ru/rest/1/x/"}, "deals": {"token": "f"}}}"#)
        let one = try #require(sites[1])
        #expect(one.zadarmaUTCOffsetMinutes == 180 && one.amoCRMCurrency == "USD" && one.mangoAPISalt == "d")
        #expect(WebhookSettings.providers.allSatisfy { one.adapter(for: $0) != nil })
        #expect(WebhookSettings.redactedText(sites) == "1=jivo,zadarma,mango,amocrm,retailcrm,bitrix24,deals")
        #expect(throws: WebhookSettings.ParseError.self) { try WebhookSettings.parse(#"{"1": {"bitrix": {"token": "a"}}}"#) }
        #expect(throws: WebhookSettings.ParseError.self) { try WebhookSettings.parse(#"{"1": {"jivo": {"tokn": "a"}}}"#) }
        #expect(throws: WebhookSettings.ParseError.self) { try WebhookSettings.parse(#"{"0": {"jivo": {"token": "a"}}}"#) }
    }
}

@Suite("RetailCRM orders")
struct RetailCRMAdapterTests {
    let retail = RetailCRMAdapter(token: "retail-secret", currency: "RUB")

    func verdict(_ body: [UInt8], token: String = "retail-secret", adapter: RetailCRMAdapter? = nil) -> WebhookVerdict {
        (adapter ?? retail).verdict(for: WebhookRequest(query: ["token": token], body: body), site: 4, receivedMs: Payload.receivedMs)
    }

    @Test("a completed order: a won Deal under its customer, its phones, e-mail and the tracker's ids from custom fields")
    func completedOrder() throws {
        guard case .store(let beacons, let reply) = verdict(Payload.bytes("retailcrm-order-complete.json")) else {
            Issue.record("not stored")
            return
        }
        let beacon = try #require(beacons.first)
        #expect(reply == .jsonOK)
        #expect(beacon.deal.crm == "retailcrm" && beacon.deal.dealID == "4321" && beacon.deal.contactID == "77")
        #expect(beacon.deal.status == .won && beacon.deal.revenueMinor == 1_250_050 && beacon.deal.currency == "RUB")
        #expect(beacon.timeMs == 1_795_440_000_000)
        #expect(beacon.identifiers.map(\.kind) == [.phone, .email, .cookie, .gaClientID])
        #expect(beacon.identifiers.map(\.value) == ["+7 (916) 555-77-88", "Olga.Smirnova@mail.ru", "c0ffee00retail0000000001", "GA1.2.555666777.1795000000"])
    }

    @Test("status groups: new, approval, assembling, delivery open; complete won; cancel lost; the site's codes first")
    func statuses() {
        #expect(retail.status(code: "new", group: "new") == .open)
        #expect(retail.status(code: "send-to-delivery", group: "delivery") == .open)
        #expect(retail.status(code: "complete", group: "complete") == .won)
        #expect(retail.status(code: "cancel-other", group: "cancel") == .lost)
        #expect(retail.status(code: "weird", group: "unknown-group") == nil)
        let mine = RetailCRMAdapter(token: "t", currency: "RUB", statuses: ["prepayed": .won, "approval": .lost])
        #expect(mine.status(code: "prepayed", group: "approval") == .won, "a status code's own mapping wins")
        #expect(mine.status(code: "availability-confirmed", group: "approval") == .lost, "then its group's")
    }

    @Test("a retry is the same event; a later status change is a new event of the same deal")
    func retriesAndChanges() throws {
        let body = Payload.bytes("retailcrm-order-complete.json")
        guard case .store(let first, _) = verdict(body), case .store(let again, _) = verdict(body) else {
            Issue.record("not stored")
            return
        }
        #expect(first[0].eventID == again[0].eventID)
        let cancelled = Array(Payload.text("retailcrm-order-complete.json")
            .replacingOccurrences(of: #""status": "complete", "status_group": "complete""#, with: #""status": "cancel-other", "status_group": "cancel""#).utf8)
        guard case .store(let changed, _) = verdict(cancelled) else {
            Issue.record("not stored")
            return
        }
        #expect(changed[0].eventID != first[0].eventID && changed[0].deal.dealID == first[0].deal.dealID && changed[0].deal.status == .lost)
    }

    @Test("no token, a wrong token, a body that is not an order, an unknown status: refused with reasons")
    func refusals() {
        #expect(RetailCRMAdapter(token: "x", currency: "RUB").verdict(for: WebhookRequest(body: []), site: 4, receivedMs: 0)
            == .unauthenticated("give ?token= in the trigger's URL"))
        #expect(verdict(Payload.bytes("retailcrm-order-complete.json"), token: "nope") == .forbidden("wrong token for site 4"))
        #expect(verdict(Array("[1,2]".utf8)) == .malformed("the body is not a JSON object"))
        #expect(verdict(Array(#"{"order": {"status": "new"}}"#.utf8)) == .malformed("an order without id or number"))
        if case .malformed(let reason) = verdict(Array(#"{"order": {"id": 1, "status": "odd", "status_group": "odd"}}"#.utf8)) {
            #expect(reason.contains("odd"))
        } else {
            Issue.record("an unknown status was accepted")
        }
        if case .malformed = verdict(Array(#"{"order": {"id": 1, "status_group": "new", "total": "12 500"}}"#.utf8)) {} else {
            Issue.record("a bad total was accepted")
        }
    }

    @Test("the webhooks setting takes retailcrm with its status overrides; a bad outcome is refused")
    func settings() throws {
        let sites = try WebhookSettings.parse(#"{"4": {"retailcrm": {"token": "t", "currency": "KZT", "statuses": {"prepayed": "won"}}}}"#)
        #expect(sites[4]?.retailCRMStatuses == ["prepayed": .won] && sites[4]?.retailCRMCurrency == "KZT")
        #expect(sites[4]?.adapter(for: "retailcrm") != nil)
        #expect(throws: WebhookSettings.ParseError.self) {
            try WebhookSettings.parse(#"{"4": {"retailcrm": {"token": "t", "statuses": {"prepayed": "paid"}}}}"#)
        }
    }
}

@Suite("Bitrix24 leads and deals")
struct Bitrix24AdapterTests {
    let bitrix = Bitrix24Adapter(applicationToken: "b24-app")

    func verdict(_ event: String, id: String = "11", token: String = "b24-app") -> WebhookVerdict {
        let body = "event=\(event)&data%5BFIELDS%5D%5BID%5D=\(id)&auth%5Bapplication_token%5D=\(token)"
        return bitrix.verdict(for: WebhookRequest(body: Array(body.utf8)), site: 5, receivedMs: Payload.receivedMs)
    }

    @Test("leads and deals are fetched later, deletions stored at once, contacts skipped; the application token is checked")
    func verdicts() {
        #expect(verdict("ONCRMLEADADD") == .fetch([Bitrix24Fetch(site: 5, entity: .lead, id: "11")], reply: .ok))
        #expect(verdict("ONCRMDEALUPDATE", id: "21") == .fetch([Bitrix24Fetch(site: 5, entity: .deal, id: "21")], reply: .ok))
        if case .store(let beacons, _) = verdict("ONCRMDEALDELETE", id: "21") {
            #expect(beacons.first?.deal.dealID == "deal-21" && beacons.first?.deal.status == .deleted)
        } else {
            Issue.record("a deletion was not stored")
        }
        if case .skip = verdict("ONCRMCONTACTUPDATE") {} else { Issue.record("a contact event was not skipped") }
        #expect(verdict("ONCRMLEADADD", token: "nope") == .forbidden("wrong application_token for site 5"))
        #expect(bitrix.verdict(for: WebhookRequest(body: Array("event=ONCRMLEADADD".utf8)), site: 5, receivedMs: 0)
            == .unauthenticated("no auth[application_token] in the webhook"))
        #expect(verdict("ONCRMLEADADD", id: "") == .malformed("no data[FIELDS][ID]"))
    }

    @Test("a lead: its UTM as a visit, an open deal without revenue, the contact's phone, the lead as a CRM contact")
    func lead() throws {
        let lead: [String: Any] = ["ID": "11", "STATUS_SEMANTIC_ID": "P", "CONTACT_ID": "501", "UTM_SOURCE": "yandex", "UTM_MEDIUM": "cpc",
                                   "OPPORTUNITY": "900.00", "DATE_CREATE": "2026-11-20T14:00:00+03:00", "DATE_MODIFY": "2026-11-20T15:00:00+03:00"]
        let contact: [String: Any] = ["ID": "501", "PHONE": [["VALUE": "+7 916 888-77-66"]]]
        let beacons = Bitrix24Adapter.beacons(of: Bitrix24Fetch(site: 5, entity: .lead, id: "11"), entity: lead, contact: contact, receivedMs: 0)
        #expect(beacons.count == 2)
        #expect(beacons[0].visit.utmSource == "yandex" && beacons[0].timeMs == 1_795_172_400_000)
        #expect(beacons[1].deal.dealID == "lead-11" && beacons[1].deal.status == .open && beacons[1].deal.revenueMinor == 0)
        #expect(beacons[1].deal.contactID == "501" && beacons[1].timeMs == 1_795_176_000_000)
        #expect(beacons[1].identifiers.map(\.value) == ["+7 916 888-77-66", "lead-11"])
    }

    @Test("a deal: won by its stage's semantics, its revenue, the lead it came from as a CRM contact; a failed one lost")
    func deal() throws {
        var deal: [String: Any] = ["ID": "21", "LEAD_ID": "11", "CONTACT_ID": "0", "STAGE_SEMANTIC_ID": "S", "OPPORTUNITY": "15000.50",
                                   "CURRENCY_ID": "KZT", "UTM_SOURCE": "google", "DATE_MODIFY": "2026-11-22T10:00:00+03:00"]
        let fetch = Bitrix24Fetch(site: 5, entity: .deal, id: "21")
        var beacons = Bitrix24Adapter.beacons(of: fetch, entity: deal, contact: nil, receivedMs: 0)
        #expect(beacons.count == 1, "a deal from a lead takes the lead's source, not its own visit")
        #expect(beacons[0].deal.status == .won && beacons[0].deal.revenueMinor == 1_500_050 && beacons[0].deal.currency == "KZT")
        #expect(beacons[0].deal.contactID == "lead-11" && beacons[0].identifiers.map(\.value) == ["lead-11"])
        deal["STAGE_SEMANTIC_ID"] = "F"
        beacons = Bitrix24Adapter.beacons(of: fetch, entity: deal, contact: nil, receivedMs: 0)
        #expect(beacons[0].deal.status == .lost)
    }
}
