import Foundation
import StitchWire

/// RetailCRM orders, sent by a trigger (Administration → Communications →
/// Triggers: on "order created" and "order changed", action "HTTP request",
/// POST to `/v1/hooks/retailcrm/SITE?token=…`) with a JSON body built from the
/// trigger's order placeholders (README lists the body to paste):
///
/// ```json
/// {"order": {"id": 4321, "number": "4321A", "status": "complete", "status_group": "complete",
///            "total": "12500.50", "currency": "RUB", "updated_at": "1767225600",
///            "customer_id": 77, "phones": ["+7 916 …"], "emails": ["…"],
///            "visitor_id": "…", "ga_client_id": "…", "ym_client_id": "…"}}
/// ```
///
/// Each request makes a `Deal`: crm `retailcrm`, the order's id as deal id (its
/// number as a fallback), the customer as contact, revenue from `total` in minor
/// units, status by the order's status code or, failing that, its status group
/// (RetailCRM's groups: new, approval, assembling, delivery → open; complete →
/// won; cancel → lost), each overridable per site. The order's custom fields
/// where the site's checkout stored the tracker's visitor id, `_ga` and
/// `_ym_uid` join the order to the visitor's session even without a phone; the
/// customer's phones and e-mails go in as identifiers too. A trigger's retry
/// is a repeat (its event id comes from the body); a later status change is a
/// new event of the same deal, so the deal has a history.
public struct RetailCRMAdapter: WebhookAdapter {
    public static let provider = "retailcrm"
    static let identifiersPerKindMax = 5

    /// RetailCRM's status groups, as it ships them.
    static let groups: [String: Stitch_V1_DealStatus] = [
        "new": .open, "approval": .open, "assembling": .open, "delivery": .open, "complete": .won, "cancel": .lost,
    ]

    let token: String
    let currency: String
    /// Status codes or group codes → a deal status, over `groups`.
    let statuses: [String: Stitch_V1_DealStatus]

    public init(token: String, currency: String, statuses: [String: Stitch_V1_DealStatus] = [:]) {
        self.token = token
        self.currency = currency
        self.statuses = statuses
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        guard let given = request.query["token"] else { return .unauthenticated("give ?token= in the trigger's URL") }
        guard secretsEqual(given, token) else { return .forbidden("wrong token for site \(site)") }
        guard let body = JSONFields(body: request.body) else { return .malformed("the body is not a JSON object") }
        let order = body.object["order"] is [String: Any] ? body[object: "order"] : body
        guard let dealID = order[text: "id"] ?? order[text: "number"] else { return .malformed("an order without id or number") }
        guard let status = status(code: order[text: "status"], group: order[text: "status_group"]) else {
            return .malformed("order \(dealID): status \"\(order[text: "status"] ?? "")\" (group \"\(order[text: "status_group"] ?? "")\") is neither a known group nor in the site's statuses")
        }
        let total = order[text: "total"]
        let revenue = DealAdapter.minorUnits(total?.replacingOccurrences(of: ",", with: "."))
        if total != nil && revenue == nil { return .malformed("order \(dealID): total \"\(total!)\" is not an amount") }
        var identifiers: [Stitch_V1_Identifier] = []
        func add(_ kind: Stitch_V1_IdentifierKind, _ values: [String]) {
            for value in values.prefix(Self.identifiersPerKindMax) where !value.isEmpty {
                identifiers.append(.with {
                    $0.kind = kind
                    $0.value = value
                })
            }
        }
        add(.phone, Self.texts(order, "phones") + [order[text: "phone"]].compactMap { $0 })
        add(.email, Self.texts(order, "emails") + [order[text: "email"]].compactMap { $0 })
        add(.cookie, [order[text: "visitor_id"]].compactMap { $0 })
        add(.gaClientID, [order[text: "ga_client_id"]].compactMap { $0 })
        add(.ymClientID, [order[text: "ym_client_id"]].compactMap { $0 })
        let seconds = order[integer: "updated_at"] ?? 0
        let beacon = Stitch_V1_Beacon.with {
            $0.site = site
            $0.timeMs = seconds > 0 ? seconds * 1000 : receivedMs
            $0.eventID = WebhookEventID.make(provider: Self.provider, site: site, body: request.body, index: 0)
            $0.identifiers = identifiers
            $0.deal = .with {
                $0.crm = Self.provider
                $0.dealID = dealID
                $0.contactID = order[text: "customer_id"] ?? ""
                $0.status = status
                $0.revenueMinor = revenue ?? 0
                $0.currency = order[text: "currency"] ?? currency
            }
        }
        return .store([beacon], reply: .jsonOK)
    }

    /// The status of a code (the site's own mapping first), else of its group.
    func status(code: String?, group: String?) -> Stitch_V1_DealStatus? {
        if let code, let status = statuses[code] { return status }
        if let group { return statuses[group] ?? Self.groups[group] }
        return code == nil ? .open : nil
    }

    /// A JSON array of strings (or numbers), or one string.
    static func texts(_ fields: JSONFields, _ key: String) -> [String] {
        switch fields.object[key] {
        case let list as [Any]: list.compactMap { ($0 as? String) ?? ($0 as? NSNumber)?.stringValue }
        case let one as String: [one]
        default: []
        }
    }
}
