import Foundation
import StitchWire

/// Bitrix24's outbound webhooks (Applications → Webhooks → Outbound webhook,
/// events `ONCRMLEADADD`, `ONCRMLEADUPDATE`, `ONCRMDEALADD`, `ONCRMDEALUPDATE`,
/// and their `…DELETE`), posted form-encoded to `/v1/hooks/bitrix24/SITE`:
/// `event`, `data[FIELDS][ID]`, and `auth[application_token]`, which must be
/// the site's. They carry ids only, so the adapter answers at once and asks
/// for the entity to be fetched through the portal's inbound REST webhook
/// (`crm.lead.get`, `crm.deal.get`, then `crm.contact.get`), which the server
/// does after answering (`Bitrix24Fetcher`, durable and retried). A deletion
/// needs no fetch: it is stored at once.
///
/// A lead and a deal are separate entities, both stored as `Deal`s of crm
/// `bitrix24`: the lead as `lead-ID` (open, or lost when it failed; a lead
/// carries no revenue, its deal does), the deal as `deal-ID` (won, lost or
/// open by its stage's semantics, `OPPORTUNITY` as revenue). Each lead is
/// also the CRM contact `bitrix24:lead-ID`, and a deal converted from a lead
/// carries that contact too, so the deal continues the lead's person; the
/// lead's `UTM_*` fields become a `Visit`, so its source is credited even when
/// no tracked session led to it. Contacts' phones and e-mails go in as
/// identifiers. Contact events are skipped: contacts arrive with their leads
/// and deals.
public struct Bitrix24Adapter: WebhookAdapter {
    public static let provider = "bitrix24"
    static let identifiersPerKindMax = 5

    let applicationToken: String

    public init(applicationToken: String) {
        self.applicationToken = applicationToken
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        let form = FormFields(request.bodyText)
        guard let given = form["auth[application_token]"] else {
            return .unauthenticated("no auth[application_token] in the webhook")
        }
        guard secretsEqual(given, applicationToken) else { return .forbidden("wrong application_token for site \(site)") }
        guard let event = form["event"]?.uppercased() else { return .malformed("no event") }
        guard let id = form["data[FIELDS][ID]"], !id.isEmpty, id.count <= 32 else {
            return .malformed("no data[FIELDS][ID]")
        }
        let entity: Bitrix24Fetch.Entity
        switch event {
        case "ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE": entity = .lead
        case "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE": entity = .deal
        default: return .skip(reason: "event \(event) is not recorded (contacts arrive with their leads and deals)", reply: .ok)
        }
        if event.hasSuffix("DELETE") {
            return .store([.with {
                $0.site = site
                $0.timeMs = receivedMs
                $0.eventID = WebhookEventID.make(provider: Self.provider, site: site, body: request.body, index: 0)
                $0.deal = .with {
                    $0.crm = Self.provider
                    $0.dealID = "\(entity.rawValue)-\(id)"
                    $0.status = .deleted
                }
            }], reply: .ok)
        }
        return .fetch([Bitrix24Fetch(site: site, entity: entity, id: id)], reply: .ok)
    }

    /// The beacons of a fetched lead or deal (`result` of `crm.lead.get` or
    /// `crm.deal.get`) and its contact's (`crm.contact.get`), if it has one.
    public static func beacons(
        of fetch: Bitrix24Fetch, entity: [String: Any], contact: [String: Any]?, receivedMs: Int64
    ) -> [Stitch_V1_Beacon] {
        let fields = JSONFields(entity)
        let modified = fields[text: "DATE_MODIFY"] ?? fields[text: "DATE_CREATE"] ?? ""
        let timeMs = Self.milliseconds(modified) ?? receivedMs
        var identifiers: [Stitch_V1_Identifier] = []
        for source in [fields, contact.map(JSONFields.init)].compactMap({ $0 }) {
            for (key, kind) in [("PHONE", Stitch_V1_IdentifierKind.phone), ("EMAIL", .email)] {
                for value in source[array: key].compactMap({ $0[text: "VALUE"] }).prefix(identifiersPerKindMax) {
                    identifiers.append(.with {
                        $0.kind = kind
                        $0.value = value
                    })
                }
            }
        }
        let contactID = Self.contactID(of: entity)
        let leadID = fetch.entity == .lead ? fetch.id : fields[text: "LEAD_ID"].flatMap { $0 == "0" ? nil : $0 }
        if let leadID {
            identifiers.append(.with {
                $0.kind = .crmContact
                $0.namespace = provider
                $0.value = "lead-\(leadID)"
            })
        }
        let semantic = fields[text: "STATUS_SEMANTIC_ID"] ?? fields[text: "STAGE_SEMANTIC_ID"] ?? "P"
        let status: Stitch_V1_DealStatus = switch (fetch.entity, semantic) {
        case (_, "F"): .lost
        case (.deal, "S"): .won
        default: .open
        }
        let stateKey = Array("\(fetch.entity.rawValue):\(fetch.id):\(modified):\(semantic)".utf8)
        var beacons: [Stitch_V1_Beacon] = []
        let utmSource = fields[text: "UTM_SOURCE"] ?? "", utmMedium = fields[text: "UTM_MEDIUM"] ?? ""
        // The lead's (or a lead-less deal's) source, as a visit when it was created.
        if (!utmSource.isEmpty || !utmMedium.isEmpty) && (fetch.entity == .lead || leadID == nil) {
            beacons.append(.with {
                $0.site = fetch.site
                $0.timeMs = Self.milliseconds(fields[text: "DATE_CREATE"] ?? "") ?? timeMs
                $0.eventID = WebhookEventID.make(provider: provider, site: fetch.site, body: Array("\(fetch.entity.rawValue):\(fetch.id):visit".utf8), index: 0)
                $0.identifiers = identifiers
                $0.visit = .with {
                    $0.utmSource = utmSource
                    $0.utmMedium = utmMedium
                    $0.utmCampaign = fields[text: "UTM_CAMPAIGN"] ?? ""
                    $0.utmContent = fields[text: "UTM_CONTENT"] ?? ""
                    $0.utmTerm = fields[text: "UTM_TERM"] ?? ""
                }
            })
        }
        beacons.append(.with {
            $0.site = fetch.site
            $0.timeMs = timeMs
            $0.eventID = WebhookEventID.make(provider: provider, site: fetch.site, body: stateKey, index: 0)
            $0.identifiers = identifiers
            $0.deal = .with {
                $0.crm = provider
                $0.dealID = "\(fetch.entity.rawValue)-\(fetch.id)"
                $0.contactID = contactID ?? leadID.map { "lead-\($0)" } ?? ""
                $0.status = status
                $0.revenueMinor = fetch.entity == .deal ? DealAdapter.minorUnits(fields[text: "OPPORTUNITY"]) ?? 0 : 0
                $0.currency = fields[text: "CURRENCY_ID"] ?? "RUB"
            }
        })
        return beacons
    }

    /// The contact a fetched lead or deal names (Bitrix24 writes `0` for none):
    /// the one `crm.contact.get` is asked for.
    public static func contactID(of entity: [String: Any]) -> String? {
        JSONFields(entity)[text: "CONTACT_ID"].flatMap { $0 == "0" ? nil : $0 }
    }

    /// Bitrix24's `2026-11-20T14:03:11+03:00` in Unix milliseconds.
    static func milliseconds(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }
}

/// A Bitrix24 entity to fetch through the site's inbound REST webhook.
public struct Bitrix24Fetch: Sendable, Equatable, Codable {
    public enum Entity: String, Sendable, Codable {
        case lead, deal
    }

    public var site: UInt32
    public var entity: Entity
    public var id: String

    public init(site: UInt32, entity: Entity, id: String) {
        self.site = site
        self.entity = entity
        self.id = id
    }

    /// The REST method that returns it.
    public var method: String { entity == .lead ? "crm.lead.get" : "crm.deal.get" }
}
