import Crypto
import Foundation
import StitchWire

/// Mango Office VPBX notifications (API "Realtime"): form-encoded POSTs to
/// `…/events/call` and `…/events/summary` with `vpbx_api_key`, `sign` and
/// `json`; `sign` = hex SHA-256(api_key + json + api_salt).
///
/// - `events/summary` (one per call, after it ends) makes a `Call` for an
///   incoming call (`call_direction` 1): `entry_id` as the call id, the caller
///   (`from.number`), the number dialled (`line_number`, else `to.number`: the
///   tracking number), `create_time` as its start and time, talk time
///   `end_time − talk_time`, answered when it was talked (`talk_time` > 0).
/// - `events/call` (each state change: Appeared, Connected, Disconnected,
///   numbered by `seq` and possibly out of order) is verified and skipped: the
///   summary says everything once, so their order never matters here.
/// - Outgoing and internal summaries are skipped.
public struct MangoAdapter: WebhookAdapter {
    public static let provider = "mango"

    let apiKey: String
    let apiSalt: String

    public init(apiKey: String, apiSalt: String) {
        self.apiKey = apiKey
        self.apiSalt = apiSalt
    }

    /// The `sign` Mango sends for `json`.
    public static func sign(apiKey: String, json: String, apiSalt: String) -> String {
        SHA256.hash(data: Data((apiKey + json + apiSalt).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        let form = FormFields(request.bodyText)
        guard let key = form["vpbx_api_key"], let sign = form["sign"] else {
            return .unauthenticated("no vpbx_api_key and sign")
        }
        guard let json = form["json"] else { return .malformed("no json field") }
        guard secretsEqual(key, apiKey), secretsEqual(sign.lowercased(), Self.sign(apiKey: apiKey, json: json, apiSalt: apiSalt)) else {
            return .forbidden("vpbx_api_key or sign does not match site \(site)")
        }
        guard let fields = JSONFields(body: Array(json.utf8)) else { return .malformed("json is not a JSON object") }
        switch request.subpath {
        case "/events/summary":
            break
        case "/events/call":
            return .skip(reason: "call state \(fields[text: "call_state"] ?? "?") seq \(fields[text: "seq"] ?? "?"): the summary records the call", reply: .ok)
        default:
            return .skip(reason: "event \(request.subpath) is not recorded", reply: .ok)
        }
        guard fields[integer: "call_direction"] == 1 else {
            return .skip(reason: "summary of a call that is not incoming", reply: .ok)
        }
        guard let entry = fields[text: "entry_id"], let created = fields[integer: "create_time"], created > 0 else {
            return .malformed("summary without entry_id or create_time")
        }
        let talk = fields[integer: "talk_time"] ?? 0, end = fields[integer: "end_time"] ?? 0
        let to = fields[object: "to"]
        let beacon = Stitch_V1_Beacon.with {
            $0.site = site
            $0.timeMs = created * 1000
            $0.eventID = WebhookEventID.make(provider: Self.provider, site: site, body: Array(json.utf8), index: 0)
            $0.call = .with {
                $0.callID = entry
                $0.callerPhone = fields[object: "from"][text: "number"] ?? ""
                $0.trackingNumber = fields[text: "line_number"] ?? to[text: "line_number"] ?? to[text: "number"] ?? ""
                $0.startedAtMs = created * 1000
                $0.durationS = talk > 0 && end > talk ? UInt32(clamping: end - talk) : 0
                $0.answered = talk > 0
            }
        }
        return .store([beacon], reply: .ok)
    }
}
