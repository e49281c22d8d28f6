import Foundation
import StitchWire

/// amoCRM webhooks (account settings → Integrations → Webhooks): form-encoded
/// POSTs whose names nest in brackets — `leads[status][0][id]`,
/// `leads[add][0][price]`, `contacts[add][0][custom_fields][0][values][0][value]`.
/// amoCRM signs nothing, so the URL carries the site's secret:
/// `/v1/hooks/amocrm/SITE?token=…`.
///
/// Each lead (`leads[add|update|status|delete][N]`) makes a `Deal`: crm
/// `amocrm`, the lead id as deal id, status from `status_id` (142 won, 143
/// lost, any other open; a deleted lead is deleted), `price` in minor units of
/// the site's configured currency, dated by `last_modified` (else
/// `date_create`, else when first seen). Its contact is the lead's
/// `main_contact_id` when the payload names it, else the payload's only
/// contact (`contacts[add|update][N]`), whose `PHONE` and `EMAIL` custom
/// fields go in as identifiers too.
///
/// A lead whose contact the payload does not name (amoCRM's status webhook
/// carries only the lead) is stored by its deal id alone: the graph
/// remembers the contact each deal was last seen with, so the status change
/// reaches the person its lead was made for. A lead never seen with a
/// contact is refused `NO_IDENTIFIERS` (logged and counted as refused).
public struct AmoCRMAdapter: WebhookAdapter {
    public static let provider = "amocrm"
    static let leadsMax = 100

    let token: String
    let currency: String

    public init(token: String, currency: String) {
        self.token = token
        self.currency = currency
    }

    /// One `entity[action][index]` record of the form: its plain fields and
    /// its custom fields' values by code.
    struct Record {
        var action = ""
        var fields: [String: String] = [:]
        var customByIndex: [Int: (code: String, values: [Int: String])] = [:]

        func custom(_ code: String) -> [String] {
            customByIndex.keys.sorted().compactMap { customByIndex[$0] }.filter { $0.code == code }
                .flatMap { field in field.values.keys.sorted().compactMap { field.values[$0] } }
        }
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        guard let given = request.query["token"] else { return .unauthenticated("give ?token= in the webhook URL") }
        guard secretsEqual(given, token) else { return .forbidden("wrong token for site \(site)") }
        let form = FormFields(request.bodyText)
        let leads = Self.records(of: "leads", in: form)
        let contacts = Self.records(of: "contacts", in: form)
        guard !leads.isEmpty else {
            return .skip(reason: contacts.isEmpty ? "no leads in the payload" : "contacts without a lead", reply: .ok)
        }
        guard leads.count <= Self.leadsMax else { return .malformed("more than \(Self.leadsMax) leads in one request") }
        var beacons: [Stitch_V1_Beacon] = []
        for (index, lead) in leads.enumerated() {
            guard let leadID = lead.fields["id"] else { return .malformed("a lead without id") }
            let contact = lead.fields["main_contact_id"].flatMap { id in contacts.first { $0.fields["id"] == id } }
                ?? (contacts.count == 1 ? contacts[0] : nil)
            // Empty when the payload names no contact: the deal id finds it.
            let contactID = lead.fields["main_contact_id"] ?? contact?.fields["id"] ?? ""
            let eventID = WebhookEventID.make(provider: Self.provider, site: site, body: request.body, index: index)
            let seconds = Int64(lead.fields["last_modified"] ?? "") ?? Int64(lead.fields["date_create"] ?? "") ?? 0
            beacons.append(.with {
                $0.site = site
                $0.timeMs = seconds > 0 ? seconds * 1000 : receivedMs
                $0.eventID = eventID
                $0.identifiers = (contact?.custom("PHONE") ?? []).prefix(5).map { phone in .with { $0.kind = .phone; $0.value = phone } }
                    + (contact?.custom("EMAIL") ?? []).prefix(5).map { email in .with { $0.kind = .email; $0.value = email } }
                $0.deal = .with {
                    $0.crm = Self.provider
                    $0.dealID = leadID
                    $0.contactID = contactID
                    $0.status = lead.action == "delete" ? .deleted : Self.status(lead.fields["status_id"])
                    $0.revenueMinor = DealAdapter.minorUnits(lead.fields["price"]) ?? 0
                    $0.currency = currency
                }
            })
        }
        return .store(beacons, reply: .ok)
    }

    /// amoCRM's fixed status ids: 142 "successfully realized", 143 "closed and not realized".
    static func status(_ id: String?) -> Stitch_V1_DealStatus {
        switch id {
        case "142": .won
        case "143": .lost
        default: .open
        }
    }

    /// The records of `entity` in form order of (action, index).
    static func records(of entity: String, in form: FormFields) -> [Record] {
        var byKey: [String: Record] = [:]
        var order: [String] = []
        for (name, value) in form.values where name.hasPrefix(entity + "[") {
            let path = name.dropFirst(entity.count).split(separator: "]").map { $0.hasPrefix("[") ? String($0.dropFirst()) : String($0) }
            guard path.count >= 3, Int(path[1]) != nil else { continue }
            let key = path[0] + "/" + path[1]
            if byKey[key] == nil {
                byKey[key] = Record(action: path[0])
                order.append(key)
            }
            if path.count == 3 {
                byKey[key]!.fields[path[2]] = value
            } else if path[2] == "custom_fields", path.count >= 5, let field = Int(path[3]) {
                var custom = byKey[key]!.customByIndex[field] ?? (code: "", values: [:])
                if path[4] == "code" {
                    custom.code = value
                } else if path[4] == "values", path.count >= 7, let valueIndex = Int(path[5]), path[6] == "value" {
                    custom.values[valueIndex] = value
                }
                byKey[key]!.customByIndex[field] = custom
            }
        }
        let actions = ["add", "update", "status", "delete"]
        return order.sorted { a, b in
            let (aAction, aIndex) = (a.split(separator: "/")[0], Int(a.split(separator: "/")[1])!)
            let (bAction, bIndex) = (b.split(separator: "/")[0], Int(b.split(separator: "/")[1])!)
            let aRank = actions.firstIndex(of: String(aAction)) ?? actions.count
            let bRank = actions.firstIndex(of: String(bAction)) ?? actions.count
            return (aRank, aIndex) < (bRank, bIndex)
        }.map { byKey[$0]! }
    }
}
