import Foundation
import StitchWire

/// The generic deal webhook, for any CRM (Bitrix24, RetailCRM, an in-house
/// one) whose integration can post JSON. Authenticated by
/// `Authorization: Bearer TOKEN` (or `?token=`). The body is one deal, or
/// `{"deals": [ … ]}` with up to 100:
///
/// ```json
/// {"crm": "bitrix24", "deal_id": "D-77", "status": "won",
///  "revenue": "15000.50", "currency": "RUB", "time_ms": 1763900000000,
///  "contact": {"id": "C-9", "phones": ["+7 916 123-45-67"], "emails": ["a@b.ru"]},
///  "event_id": "optional: the CRM's id of this change"}
/// ```
///
/// `status` is `open`, `won`, `lost` or `deleted`; `revenue` is in major
/// units (a number or decimal text) or `revenue_minor` in minor units;
/// `time_ms` is when the deal changed. The contact needs at least one of id,
/// phone or e-mail: its id becomes a `crm_contact` identifier (namespace
/// `crm`), its phones and e-mails identifiers too. A repeat of the same change
/// (same `event_id`, or the same body) is stored once.
public struct DealAdapter: WebhookAdapter {
    public static let provider = "deals"
    static let dealsMax = 100

    let token: String

    public init(token: String) {
        self.token = token
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        let bearer = request.headers["authorization"].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let given = bearer ?? request.query["token"] else {
            return .unauthenticated("give Authorization: Bearer TOKEN")
        }
        guard secretsEqual(given, token) else { return .forbidden("wrong token for site \(site)") }
        guard let root = JSONFields(body: request.body) else { return .malformed("expected a JSON object") }
        let deals = root.object["deals"] != nil ? root[array: "deals"] : [root]
        guard !deals.isEmpty, deals.count <= Self.dealsMax else {
            return .malformed("1 to \(Self.dealsMax) deals per request")
        }
        var beacons: [Stitch_V1_Beacon] = []
        for (index, deal) in deals.enumerated() {
            let label = "deals[\(index)]"
            guard let crm = deal[text: "crm"], let dealID = deal[text: "deal_id"] else {
                return .malformed("\(label): crm and deal_id are required")
            }
            guard let status = Self.status(deal[text: "status"]) else {
                return .malformed("\(label): status is open, won, lost or deleted")
            }
            guard let timeMs = deal[integer: "time_ms"], timeMs > 0 else {
                return .malformed("\(label): time_ms (Unix ms of the change) is required")
            }
            let revenue: Int64?
            if let minor = deal[integer: "revenue_minor"] {
                revenue = minor
            } else if deal.object["revenue"] != nil {
                guard let major = Self.minorUnits(deal[text: "revenue"]) else {
                    return .malformed("\(label): revenue is a number in major units")
                }
                revenue = major
            } else {
                revenue = nil
            }
            let contact = deal[object: "contact"]
            let phones = (contact.object["phones"] as? [Any] ?? []).compactMap { $0 as? String }
            let emails = (contact.object["emails"] as? [Any] ?? []).compactMap { $0 as? String }
            let contactID = contact[text: "id"]
            guard contactID != nil || !phones.isEmpty || !emails.isEmpty else {
                return .malformed("\(label): contact needs an id, a phone or an e-mail")
            }
            let eventID = deal[text: "event_id"].map { id in
                WebhookEventID.make(provider: Self.provider, site: site, body: Array("\(crm)|\(dealID)|\(id)".utf8), index: 0)
            } ?? WebhookEventID.make(provider: Self.provider, site: site, body: request.body, index: index)
            beacons.append(.with {
                $0.site = site
                $0.timeMs = timeMs
                $0.eventID = eventID
                $0.identifiers = phones.prefix(5).map { phone in .with { $0.kind = .phone; $0.value = phone } }
                    + emails.prefix(5).map { email in .with { $0.kind = .email; $0.value = email } }
                $0.deal = .with {
                    $0.crm = crm
                    $0.dealID = dealID
                    $0.contactID = contactID ?? ""
                    $0.status = status
                    $0.revenueMinor = revenue ?? 0
                    $0.currency = deal[text: "currency"] ?? ""
                }
            })
        }
        return .store(beacons, reply: WebhookReply(contentType: "application/json", body: #"{"result":"ok"}"#))
    }

    static func status(_ text: String?) -> Stitch_V1_DealStatus? {
        switch text?.lowercased() {
        case "open": .open
        case "won": .won
        case "lost": .lost
        case "deleted": .deleted
        default: nil
        }
    }

    /// `"15000.5"` → 1500050; nil for text that is not a plain decimal.
    static func minorUnits(_ text: String?) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]), whole.magnitude < 1 << 50 else { return nil }
        var cents: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 2 || fraction.dropFirst(2).allSatisfy({ $0 == "0" }),
                let value = Int64(fraction.prefix(2).padding(toLength: 2, withPad: "0", startingAt: 0))
            else { return nil }
            cents = value
        }
        return whole * 100 + (whole < 0 || parts[0].hasPrefix("-") ? -cents : cents)
    }
}
