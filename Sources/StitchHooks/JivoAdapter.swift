import StitchWire

/// Jivo chat webhooks (https://www.jivo.ru/docs/webhooks/): a JSON body with
/// `event_name`. Jivo signs nothing, so its URL carries the site's secret:
/// `/v1/hooks/jivo/SITE?token=…`.
///
/// - `chat_accepted`, `chat_updated`, `chat_finished`, `offline_message` make
///   a `Chat` beacon: provider `jivo`, `chat_id` = Jivo's client number
///   (`visitor.number`, the same across that visitor's chats; the dialog's
///   `chat_id` when it is missing), `visitor_id` = the dialog's `chat_id`,
///   the visitor's phone and e-mail. `user_token` — our tracker's visitor id,
///   which `stitch.js` gives the widget — becomes a `cookie` identifier, so the
///   chat joins the visitor's person.
/// - Without a `user_token` (a site without our tracker), `chat_accepted` and
///   `offline_message` also make a `Visit` from the chat's session (`utm_json`,
///   `page.url` as landing), so the chat's campaign is not lost.
/// - Times: `chat_finished` is dated by its last message, `offline_message` by
///   its id (Jivo's is a millisecond time); the others carry no time and are
///   dated by their arrival; their ids come from the request (`WebhookEventID`), so a
///   retry is a repeat whenever it comes.
/// - Any other `event_name` is answered `{"result":"ok"}` and skipped.
public struct JivoAdapter: WebhookAdapter {
    public static let provider = "jivo"
    static let recorded: Set<String> = ["chat_accepted", "chat_updated", "chat_finished", "offline_message"]

    let token: String

    public init(token: String) {
        self.token = token
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        guard let given = request.query["token"] else { return .unauthenticated("give ?token= in the webhook URL") }
        guard secretsEqual(given, token) else { return .forbidden("wrong token for site \(site)") }
        guard let json = JSONFields(body: request.body), let event = json[text: "event_name"] else {
            return .malformed("expected a JSON object with event_name")
        }
        guard Self.recorded.contains(event) else {
            return .skip(reason: "event \(event) is not recorded", reply: .jsonOK)
        }
        let visitor = json[object: "visitor"]
        let dialog = json[text: "chat_id"]
        guard let client = visitor[text: "number"] ?? dialog else {
            return .malformed("\(event) without visitor.number or chat_id")
        }
        let userToken = json[text: "user_token"]
        func eventID(_ index: Int) -> UInt64 {
            WebhookEventID.make(provider: Self.provider, site: site, body: request.body, index: index)
        }
        let timeMs = eventTimeMs(event, json, receivedMs: receivedMs)
        func beacon(_ index: Int) -> Stitch_V1_Beacon {
            .with {
                $0.site = site
                $0.timeMs = timeMs
                $0.eventID = eventID(index)
                if let userToken { $0.identifiers = [.with { $0.kind = .cookie; $0.value = userToken }] }
            }
        }
        var chat = beacon(0)
        chat.chat = .with {
            $0.provider = Self.provider
            $0.chatID = client
            $0.visitorID = dialog ?? ""
            $0.phone = visitor[text: "phone"] ?? ""
            $0.email = visitor[text: "email"] ?? ""
        }
        var beacons = [chat]
        if userToken == nil, event == "chat_accepted" || event == "offline_message" {
            let utm = json[object: "session"][object: "utm_json"]
            var visit = beacon(1)
            visit.identifiers = [.with { $0.kind = .chat; $0.namespace = Self.provider; $0.value = client }]
            visit.visit = .with {
                $0.utmSource = utm[text: "source"] ?? ""
                $0.utmMedium = utm[text: "medium"] ?? ""
                $0.utmCampaign = utm[text: "campaign"] ?? ""
                $0.utmContent = utm[text: "content"] ?? ""
                $0.utmTerm = utm[text: "term"] ?? ""
                $0.landingURL = json[object: "page"][text: "url"] ?? ""
            }
            beacons.insert(visit, at: 0)
        }
        return .store(beacons, reply: .jsonOK)
    }

    private func eventTimeMs(_ event: String, _ json: JSONFields, receivedMs: Int64) -> Int64 {
        switch event {
        case "chat_finished":
            if let last = json[object: "chat"][array: "messages"].compactMap({ $0[integer: "timestamp"] }).max(), last > 0 {
                return last * 1000
            }
        case "offline_message":
            // Jivo's offline message id is the millisecond it was sent.
            if let id = json[integer: "offline_message_id"], id > 1_000_000_000_000, id < 7_258_118_400_000 { return id }
        default:
            break
        }
        return receivedMs
    }
}
