import Crypto
import Foundation
import StitchWire

/// Zadarma PBX notifications (https://zadarma.com/en/support/api/#api_webhooks):
/// form-encoded POSTs with `event`; the `Signature` header is
/// base64(hex(HMAC-SHA1(caller_id + called_did + call_start, API secret))) —
/// the hex string, as Zadarma's PHP example (`hash_hmac`) makes it.
///
/// - `GET ?zd_echo=X` (Zadarma's check when the URL is saved) is answered `X`.
/// - `NOTIFY_END` (an incoming call ended) makes a `Call`: `pbx_call_id`, the
///   caller (`caller_id`), the number dialled (`called_did`, the tracking
///   number matched against leases), `call_start`, `duration`, and answered
///   when `disposition` is `answered`. Its time is `call_start`, read in the
///   site's configured UTC offset (Zadarma writes local time and does not say
///   which zone).
/// - `NOTIFY_START` is verified and skipped: the call is recorded once, at its
///   end, when its duration and answer are known (a call stored at both ends
///   would count twice in attribution).
/// - Other events (internal, outgoing, IVR, records) are skipped.
public struct ZadarmaAdapter: WebhookAdapter {
    public static let provider = "zadarma"

    let secret: String
    let utcOffsetMinutes: Int

    public init(secret: String, utcOffsetMinutes: Int) {
        self.secret = secret
        self.utcOffsetMinutes = utcOffsetMinutes
    }

    /// The `Signature` Zadarma sends for these fields.
    public static func signature(callerID: String, calledDID: String, callStart: String, secret: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data((callerID + calledDID + callStart).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        let hex = mac.map { String(format: "%02x", $0) }.joined()
        return Data(hex.utf8).base64EncodedString()
    }

    public func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict {
        if let echo = request.query["zd_echo"] {
            return .skip(reason: "zd_echo check", reply: WebhookReply(body: echo))
        }
        let form = FormFields(request.bodyText)
        guard let event = form["event"] else { return .malformed("expected a form with event=…") }
        guard event == "NOTIFY_START" || event == "NOTIFY_END" else {
            return .skip(reason: "event \(event) is not recorded", reply: .ok)
        }
        let callerID = form["caller_id"] ?? "", calledDID = form["called_did"] ?? "", callStart = form["call_start"] ?? ""
        guard let signature = request.headers["signature"] else { return .unauthenticated("no Signature header") }
        guard secretsEqual(signature, Self.signature(callerID: callerID, calledDID: calledDID, callStart: callStart, secret: secret)) else {
            return .forbidden("the Signature does not match site \(site)'s secret")
        }
        guard event == "NOTIFY_END" else {
            return .skip(reason: "NOTIFY_START: the call is recorded at NOTIFY_END", reply: .ok)
        }
        guard let startMs = Self.parseTime(callStart, utcOffsetMinutes: utcOffsetMinutes) else {
            return .malformed("call_start is not YYYY-MM-DD HH:MM:SS: \(callStart)")
        }
        guard let callID = form["pbx_call_id"], !callID.isEmpty else { return .malformed("no pbx_call_id") }
        let beacon = Stitch_V1_Beacon.with {
            $0.site = site
            $0.timeMs = startMs
            $0.eventID = WebhookEventID.make(provider: Self.provider, site: site, body: request.body, index: 0)
            $0.call = .with {
                $0.callID = callID
                $0.callerPhone = callerID
                $0.trackingNumber = calledDID
                $0.startedAtMs = startMs
                $0.durationS = UInt32(clamping: Int(form["duration"] ?? "") ?? 0)
                $0.answered = form["disposition"] == "answered"
            }
        }
        return .store([beacon], reply: .ok)
    }

    /// `2026-11-23 14:05:09` in the given offset, as Unix ms.
    static func parseTime(_ text: String, utcOffsetMinutes: Int) -> Int64? {
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == ":" }).map { Int($0) }
        guard parts.count == 6, let year = parts[0], let month = parts[1], let day = parts[2],
            let hour = parts[3], let minute = parts[4], let second = parts[5],
            (1970...2199).contains(year), (1...12).contains(month), (1...31).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(utcOffsetMinutes * 60)
        return seconds * 1000
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
