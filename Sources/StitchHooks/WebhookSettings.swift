import Foundation
import StitchWire

/// Each site's webhook credentials, from the `webhooks` setting:
///
/// ```json
/// {"1": {"jivo":    {"token": "…"},
///        "zadarma": {"secret": "…", "utc_offset_minutes": 180},
///        "mango":   {"api_key": "…", "api_salt": "…"},
///        "amocrm":  {"token": "…", "currency": "RUB"},
///        "retailcrm": {"token": "…", "currency": "RUB", "statuses": {"prepayed": "won"}},
///        "bitrix24": {"application_token": "…", "rest_url": "https://portal.bitrix24.ru/rest/1/secret/"},
///        "deals":   {"token": "…"}}}
/// ```
///
/// A provider not listed for a site is not accepted for it (404).
public struct WebhookSettings: Sendable, Equatable {
    /// Jivo signs nothing: its webhook URL carries `?token=`.
    public var jivoToken: String?
    /// Zadarma's API secret: requests carry `Signature`, an HMAC-SHA1 by it.
    public var zadarmaSecret: String?
    /// Zadarma writes `call_start` in the account's time zone, without saying which.
    public var zadarmaUTCOffsetMinutes = 0
    /// Mango Office's `vpbx_api_key` and salt: `sign` = SHA-256(key + json + salt).
    public var mangoAPIKey: String?
    public var mangoAPISalt: String?
    /// amoCRM signs nothing: its webhook URL carries `?token=`.
    public var amoCRMToken: String?
    /// amoCRM's `price` is in the account's currency, which the webhook does not name.
    public var amoCRMCurrency = "RUB"
    /// RetailCRM's trigger signs nothing: its URL carries `?token=`.
    public var retailCRMToken: String?
    /// The currency of orders whose trigger body names none.
    public var retailCRMCurrency = "RUB"
    /// The site's own status codes (or groups) → deal status, over RetailCRM's groups.
    public var retailCRMStatuses: [String: Stitch_V1_DealStatus] = [:]
    /// Bitrix24's outbound webhook carries this `application_token`.
    public var bitrix24ApplicationToken: String?
    /// The portal's inbound REST webhook, ending in `/`: entities are fetched
    /// as `REST_URL` + `crm.deal.get.json?id=…`.
    public var bitrix24RESTURL: String?
    /// The generic deal webhook: `Authorization: Bearer TOKEN` or `?token=`.
    public var dealsToken: String?

    public init() {}

    /// A problem in the `webhooks` setting, for the configuration error.
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses the setting's JSON (keys as in the example above; unknown keys are refused).
    public static func parse(_ text: String) throws(ParseError) -> [UInt32: WebhookSettings] {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw ParseError(description: "expected a JSON object keyed by site")
        }
        var result: [UInt32: WebhookSettings] = [:]
        for (siteText, value) in root {
            guard let site = UInt32(siteText), site > 0 else {
                throw ParseError(description: "\(siteText): sites are positive integers")
            }
            guard let providers = value as? [String: Any] else {
                throw ParseError(description: "site \(site): expected an object of providers")
            }
            var settings = WebhookSettings()
            for (provider, fields) in providers {
                guard let fields = fields as? [String: Any] else {
                    throw ParseError(description: "site \(site) \(provider): expected an object")
                }
                func text(_ key: String) throws(ParseError) -> String {
                    guard let value = fields[key] as? String, !value.isEmpty else {
                        throw ParseError(description: "site \(site) \(provider): \"\(key)\" is a non-empty string")
                    }
                    return value
                }
                func only(_ keys: Set<String>) throws(ParseError) {
                    if let unknown = fields.keys.sorted().first(where: { !keys.contains($0) }) {
                        throw ParseError(description: "site \(site) \(provider): unknown field \"\(unknown)\" (fields: \(keys.sorted().joined(separator: ", ")))")
                    }
                }
                switch provider {
                case "jivo":
                    try only(["token"])
                    settings.jivoToken = try text("token")
                case "zadarma":
                    try only(["secret", "utc_offset_minutes"])
                    settings.zadarmaSecret = try text("secret")
                    if let offset = fields["utc_offset_minutes"] {
                        guard let minutes = (offset as? NSNumber)?.intValue, abs(minutes) <= 14 * 60 else {
                            throw ParseError(description: "site \(site) zadarma: \"utc_offset_minutes\" is a number from -840 to 840")
                        }
                        settings.zadarmaUTCOffsetMinutes = minutes
                    }
                case "mango":
                    try only(["api_key", "api_salt"])
                    settings.mangoAPIKey = try text("api_key")
                    settings.mangoAPISalt = try text("api_salt")
                case "amocrm":
                    try only(["token", "currency"])
                    settings.amoCRMToken = try text("token")
                    if fields["currency"] != nil { settings.amoCRMCurrency = try text("currency") }
                case "retailcrm":
                    try only(["token", "currency", "statuses"])
                    settings.retailCRMToken = try text("token")
                    if fields["currency"] != nil { settings.retailCRMCurrency = try text("currency") }
                    if let statuses = fields["statuses"] {
                        let outcomes: [String: Stitch_V1_DealStatus] = ["open": .open, "won": .won, "lost": .lost, "deleted": .deleted]
                        guard let map = statuses as? [String: String], let parsed = try? map.mapValues({ (name) throws(ParseError) in
                            guard let status = outcomes[name] else { throw ParseError(description: name) }
                            return status
                        }) else {
                            throw ParseError(description: "site \(site) retailcrm: \"statuses\" maps status or group codes to open, won, lost or deleted")
                        }
                        settings.retailCRMStatuses = parsed
                    }
                case "bitrix24":
                    try only(["application_token", "rest_url"])
                    settings.bitrix24ApplicationToken = try text("application_token")
                    let url = try text("rest_url")
                    guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.hasSuffix("/") else {
                        throw ParseError(description: "site \(site) bitrix24: \"rest_url\" is the inbound webhook's URL, http(s)://… ending in /")
                    }
                    settings.bitrix24RESTURL = url
                case "deals":
                    try only(["token"])
                    settings.dealsToken = try text("token")
                default:
                    throw ParseError(description: "site \(site): unknown provider \"\(provider)\" (jivo, zadarma, mango, amocrm, retailcrm, bitrix24, deals)")
                }
            }
            result[site] = settings
        }
        return result
    }

    /// Every secret configured for the site's providers (tokens, keys, salts).
    public var secrets: [String] {
        [jivoToken, zadarmaSecret, mangoAPIKey, mangoAPISalt, amoCRMToken, retailCRMToken, bitrix24ApplicationToken, dealsToken]
            .compactMap { $0 }
    }

    /// The setting with no secret in it (for `config` printing): each site
    /// and the providers it has credentials for, `1=jivo,amocrm;2=deals`.
    public static func redactedText(_ sites: [UInt32: WebhookSettings]) -> String {
        sites.keys.sorted().map { site -> String in
            let settings = sites[site]!
            var providers: [String] = []
            if settings.jivoToken != nil { providers.append("jivo") }
            if settings.zadarmaSecret != nil { providers.append("zadarma") }
            if settings.mangoAPIKey != nil { providers.append("mango") }
            if settings.amoCRMToken != nil { providers.append("amocrm") }
            if settings.retailCRMToken != nil { providers.append("retailcrm") }
            if settings.bitrix24ApplicationToken != nil { providers.append("bitrix24") }
            if settings.dealsToken != nil { providers.append("deals") }
            return "\(site)=\(providers.joined(separator: ","))"
        }.joined(separator: ";")
    }
}

extension WebhookSettings {
    /// The providers `/v1/hooks/PROVIDER/SITE` knows.
    public static let providers = [
        JivoAdapter.provider, ZadarmaAdapter.provider, MangoAdapter.provider, AmoCRMAdapter.provider, RetailCRMAdapter.provider, Bitrix24Adapter.provider, DealAdapter.provider,
    ]

    /// The adapter for `provider` with this site's credentials; nil when the
    /// site has none for it (or the provider is unknown).
    public func adapter(for provider: String) -> (any WebhookAdapter)? {
        switch provider {
        case JivoAdapter.provider: jivoToken.map { JivoAdapter(token: $0) }
        case ZadarmaAdapter.provider: zadarmaSecret.map { ZadarmaAdapter(secret: $0, utcOffsetMinutes: zadarmaUTCOffsetMinutes) }
        case MangoAdapter.provider: mangoAPIKey.flatMap { key in mangoAPISalt.map { MangoAdapter(apiKey: key, apiSalt: $0) } }
        case AmoCRMAdapter.provider: amoCRMToken.map { AmoCRMAdapter(token: $0, currency: amoCRMCurrency) }
        case RetailCRMAdapter.provider:
            retailCRMToken.map { RetailCRMAdapter(token: $0, currency: retailCRMCurrency, statuses: retailCRMStatuses) }
        case Bitrix24Adapter.provider: bitrix24ApplicationToken.map { Bitrix24Adapter(applicationToken: $0) }
        case DealAdapter.provider: dealsToken.map { DealAdapter(token: $0) }
        default: nil
        }
    }
}
