import StitchHooks
import StitchWire
import Testing

@Suite("Jivo webhooks")
struct JivoAdapterTests {
    let adapter = JivoAdapter(token: "jivo-secret")

    func request(_ payload: String, token: String? = "jivo-secret") -> WebhookRequest {
        WebhookRequest(query: token.map { ["token": $0] } ?? [:], body: Payload.bytes(payload))
    }

    @Test("chat_accepted with a user_token: one Chat beacon under the tracker's cookie")
    func acceptedWithUserToken() throws {
        guard case .store(let beacons, let reply) = adapter.verdict(for: request("jivo-chat-accepted.json"), site: 4, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        #expect(reply == .jsonOK)
        #expect(beacons.count == 1)
        let beacon = try #require(beacons.first)
        #expect(beacon.site == 4)
        #expect(beacon.identifiers.map(\.kind) == [.cookie])
        #expect(beacon.identifiers.first?.value == "v.8f3a2c91d4e5")
        #expect(beacon.chat.provider == "jivo")
        #expect(beacon.chat.chatID == "40517")
        #expect(beacon.chat.visitorID == "90211")
        #expect(beacon.chat.phone == "+7 (916) 555-12-34")
        #expect(beacon.chat.email == "maria.petrova@example.ru")
        #expect(beacon.timeMs == 1_795_437_000_000)  // no time in the payload: first seen
        #expect(beacon.eventID != 0)
    }

    @Test("a retry an hour later has the same id (from the request alone); another event is another id")
    func retriesAreRepeats() {
        let later = Payload.receivedMs + 3_600_000
        guard case .store(let first, _) = adapter.verdict(for: request("jivo-chat-accepted.json"), site: 4, receivedMs: Payload.receivedMs),
            case .store(let retry, _) = adapter.verdict(for: request("jivo-chat-accepted.json"), site: 4, receivedMs: later),
            case .store(let updated, _) = adapter.verdict(for: request("jivo-chat-updated.json"), site: 4, receivedMs: later)
        else {
            Issue.record("not stored")
            return
        }
        // Undated: the retry carries its own arrival, but the same id, which
        // the store recognises whatever the time.
        #expect(first[0].eventID == retry[0].eventID && retry[0].timeMs == later)
        var retryAtFirstTime = retry
        retryAtFirstTime[0].timeMs = first[0].timeMs
        #expect(first == retryAtFirstTime)
        #expect(updated[0].eventID != first[0].eventID)
        // The same body for another site is another event.
        guard case .store(let otherSite, _) = adapter.verdict(for: request("jivo-chat-accepted.json"), site: 5, receivedMs: later) else { return }
        #expect(otherSite[0].eventID != first[0].eventID)
    }

    @Test("chat_finished is dated by its last message")
    func finishedDated() {
        guard case .store(let beacons, _) = adapter.verdict(for: request("jivo-chat-finished.json"), site: 4, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        #expect(beacons.map(\.timeMs) == [1_795_438_866_000])
        #expect(beacons[0].identifiers.isEmpty)  // no user_token: the chat id and phone identify it
    }

    @Test("offline_message without a user_token also keeps the chat's campaign as a visit")
    func offlineWithoutToken() {
        guard case .store(let beacons, _) = adapter.verdict(for: request("jivo-offline-message.json"), site: 4, receivedMs: Payload.receivedMs) else {
            Issue.record("not stored")
            return
        }
        #expect(beacons.count == 2)
        #expect(beacons[0].visit.utmSource == "google")
        #expect(beacons[0].visit.utmCampaign == "beds")
        #expect(beacons[0].visit.landingURL == "https://shop.example/beds?utm_source=google")
        #expect(beacons[0].identifiers.map(\.value) == ["40533"])
        #expect(beacons[1].chat.phone == "8 903 700-11-22")
        #expect(beacons.allSatisfy { $0.timeMs == 1_795_442_400_123 })
        #expect(beacons[0].eventID != beacons[1].eventID)
    }

    @Test("an event Jivo sends that we do not record is answered ok and skipped")
    func unknownEvent() {
        guard case .skip(_, let reply) = adapter.verdict(for: request("jivo-client-updated.json"), site: 4, receivedMs: Payload.receivedMs) else {
            Issue.record("not skipped")
            return
        }
        #expect(reply == .jsonOK)
    }

    @Test("no token is 401, a wrong one 403, a body that is not Jivo's 400")
    func refusals() {
        #expect(isUnauthenticated(adapter.verdict(for: request("jivo-chat-accepted.json", token: nil), site: 4, receivedMs: Payload.receivedMs)))
        #expect(isForbidden(adapter.verdict(for: request("jivo-chat-accepted.json", token: "jivo-secreT"), site: 4, receivedMs: Payload.receivedMs)))
        let garbage = WebhookRequest(query: ["token": "jivo-secret"], body: Array("[1,2]".utf8))
        #expect(isMalformed(adapter.verdict(for: garbage, site: 4, receivedMs: Payload.receivedMs)))
    }
}

func isUnauthenticated(_ verdict: WebhookVerdict) -> Bool {
    if case .unauthenticated = verdict { return true }
    return false
}

func isForbidden(_ verdict: WebhookVerdict) -> Bool {
    if case .forbidden = verdict { return true }
    return false
}

func isMalformed(_ verdict: WebhookVerdict) -> Bool {
    if case .malformed = verdict { return true }
    return false
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
