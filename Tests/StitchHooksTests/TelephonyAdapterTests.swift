import StitchHooks
import StitchWire
import Testing

@Suite("Telephony webhooks (Zadarma, Mango Office)")
struct TelephonyAdapterTests {
    static let zadarmaSecret = "zd-api-secret"
    let zadarma = ZadarmaAdapter(secret: Self.zadarmaSecret, utcOffsetMinutes: 180)

    func zadarmaRequest(_ payload: String, signature: String? = nil) -> WebhookRequest {
        let body = Payload.bytes(payload)
        let form = FormFields(String(decoding: body, as: UTF8.self))
        let signed = ZadarmaAdapter.signature(
            callerID: form["caller_id"] ?? "", calledDID: form["called_did"] ?? "", callStart: form["call_start"] ?? "",
            secret: Self.zadarmaSecret)
        return WebhookRequest(headers: ["Signature": signature ?? signed], body: body)
    }

    @Test("Zadarma's Signature is base64 of the hex HMAC-SHA1, as its PHP example makes it")
    func zadarmaSignatureVector() {
        // echo -n '79165551234749510000012026-11-23 16:10:05' | openssl dgst -sha1 -hmac zd-api-secret | awk '{printf "%s",$2}' | base64
        #expect(ZadarmaAdapter.signature(callerID: "79165551234", calledDID: "74951000001", callStart: "2026-11-23 16:10:05", secret: Self.zadarmaSecret)
            == "Mjc1ODJjMjk4ZmQyYTMyNzlhMWVjYzc2MWQ3MWM0YWNhMmU5MmIzMw==")
    }

    @Test("NOTIFY_END is the call: caller, tracking number, start in the site's offset, talk time, answered")
    func zadarmaEnd() throws {
        guard case .store(let beacons, _) = zadarma.verdict(for: zadarmaRequest("zadarma-notify-end.form"), site: 2, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        let call = try #require(beacons.first).call
        #expect(call.callID == "in_5f1c0a2b9e")
        #expect(call.callerPhone == "79165551234")
        #expect(call.trackingNumber == "74951000001")
        #expect(call.startedAtMs == 1_795_439_405_000)  // 2026-11-23 16:10:05 +03:00
        #expect(beacons[0].timeMs == call.startedAtMs)
        #expect(call.durationS == 184)
        #expect(call.answered)
    }

    @Test("NOTIFY_START is verified and skipped; other events skipped; zd_echo echoed")
    func zadarmaSkips() {
        guard case .skip(_, let reply) = zadarma.verdict(for: zadarmaRequest("zadarma-notify-start.form"), site: 2, receivedMs: Payload.receivedMs) else {
            Issue.record("start not skipped")
            return
        }
        #expect(reply == .ok)
        if case .store = zadarma.verdict(for: zadarmaRequest("zadarma-notify-record.form"), site: 2, receivedMs: Payload.receivedMs) {
            Issue.record("a record notification was stored")
        }
        let echo = WebhookRequest(query: ["zd_echo": "a1b2c3"], body: [])
        #expect(zadarma.verdict(for: echo, site: 2, receivedMs: Payload.receivedMs) == .skip(reason: "zd_echo check", reply: WebhookReply(body: "a1b2c3")))
    }

    @Test("a bad or missing Signature is refused, even on NOTIFY_START")
    func zadarmaBadSignature() {
        #expect(isForbidden(zadarma.verdict(for: zadarmaRequest("zadarma-notify-end.form", signature: "Zm9v"), site: 2, receivedMs: Payload.receivedMs)))
        #expect(isForbidden(zadarma.verdict(for: zadarmaRequest("zadarma-notify-start.form", signature: "Zm9v"), site: 2, receivedMs: Payload.receivedMs)))
        let unsigned = WebhookRequest(body: Payload.bytes("zadarma-notify-end.form"))
        #expect(isUnauthenticated(zadarma.verdict(for: unsigned, site: 2, receivedMs: Payload.receivedMs)))
        let otherSecret = ZadarmaAdapter(secret: "another", utcOffsetMinutes: 180)
        #expect(isForbidden(otherSecret.verdict(for: zadarmaRequest("zadarma-notify-end.form"), site: 2, receivedMs: Payload.receivedMs)))
    }

    static let mangoKey = "mango-key", mangoSalt = "mango-salt"
    let mango = MangoAdapter(apiKey: Self.mangoKey, apiSalt: Self.mangoSalt)

    static func mangoRequest(_ payload: String, path: String, sign: String? = nil) -> WebhookRequest {
        let json = Payload.text(payload).trimmingCharacters(in: .whitespacesAndNewlines)
        let signed = sign ?? MangoAdapter.sign(apiKey: mangoKey, json: json, apiSalt: mangoSalt)
        let body = "vpbx_api_key=\(mangoKey)&sign=\(signed)&json=\(json.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        return WebhookRequest(subpath: path, body: Array(body.utf8))
    }

    @Test("Mango's sign is hex SHA-256 of key + json + salt")
    func mangoSignVector() {
        // echo -n 'mango-key{"a":1}mango-salt' | sha256sum
        #expect(MangoAdapter.sign(apiKey: Self.mangoKey, json: #"{"a":1}"#, apiSalt: Self.mangoSalt)
            == "ab9e4d473c88ab17bb9e6cf51135c43c2f554bae5db0082bc37f34b9f1cb2980")
    }

    @Test("a Mango summary of an incoming call is the call; call-state events are skipped")
    func mangoSummary() throws {
        guard case .store(let beacons, _) = mango.verdict(for: Self.mangoRequest("mango-summary.json", path: "/events/summary"), site: 2, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        let call = try #require(beacons.first).call
        #expect(call.callID == "MTAxNTQ0NjU5Mjo3MTQ6NzM4Mzg4OTMx")
        #expect(call.callerPhone == "79035550011")
        #expect(call.trackingNumber == "74951000002")
        #expect(call.startedAtMs == 1_795_442_100_000)
        #expect(call.durationS == 120)
        #expect(call.answered)
        guard case .skip = mango.verdict(for: Self.mangoRequest("mango-call.json", path: "/events/call"), site: 2, receivedMs: Payload.receivedMs) else {
            Issue.record("call event not skipped")
            return
        }
    }

    @Test("a Mango request with a wrong sign or key is refused")
    func mangoRefusals() {
        #expect(isForbidden(mango.verdict(for: Self.mangoRequest("mango-summary.json", path: "/events/summary", sign: String(repeating: "0", count: 64)), site: 2, receivedMs: Payload.receivedMs)))
        let wrongKey = MangoAdapter(apiKey: "other-key", apiSalt: Self.mangoSalt)
        #expect(isForbidden(wrongKey.verdict(for: Self.mangoRequest("mango-summary.json", path: "/events/summary"), site: 2, receivedMs: Payload.receivedMs)))
        #expect(isUnauthenticated(mango.verdict(for: WebhookRequest(subpath: "/events/summary", body: Array("json={}".utf8)), site: 2, receivedMs: Payload.receivedMs)))
    }
}
