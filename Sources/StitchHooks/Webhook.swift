import Foundation
import StitchWire

/// One webhook request as an adapter sees it: what the provider sent, with
/// nothing of HTTP's machinery. Header names are lower-cased.
public struct WebhookRequest: Sendable {
    /// The path after `/v1/hooks/PROVIDER/SITE` (`/events/summary` for Mango; empty for the others).
    public var subpath: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: [UInt8]

    public init(subpath: String = "", query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8]) {
        self.subpath = subpath
        self.query = query
        self.headers = headers.reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
        self.body = body
    }

    /// The body as text (form-encoded and JSON bodies are UTF-8).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What the intake should do with a webhook.
public enum WebhookVerdict: Sendable, Equatable {
    /// Store these beacons (through the collector's path), then answer `reply`.
    case store([Stitch_V1_Beacon], reply: WebhookReply)
    /// Store nothing and answer `reply` (200): an event this adapter does not
    /// record (a call's start, an unknown event type, `zd_echo`), said in
    /// `reason` for the log and counted. Providers disable endpoints that keep
    /// failing, so an event we do not use is never an error.
    case skip(reason: String, reply: WebhookReply)
    /// Answer `reply` (200) now; the server fetches these entities from the
    /// provider afterwards (Bitrix24's webhooks carry ids only), durably and
    /// with retries, and stores what they say.
    case fetch([Bitrix24Fetch], reply: WebhookReply)
    /// 401: the request carries no credentials.
    case unauthenticated(String)
    /// 403: the credentials are wrong.
    case forbidden(String)
    /// 400: the body is not what the provider sends.
    case malformed(String)
}

/// The answer body a provider expects.
public struct WebhookReply: Sendable, Equatable {
    public var contentType: String
    public var body: String

    public init(contentType: String = "text/plain; charset=utf-8", body: String) {
        self.contentType = contentType
        self.body = body
    }

    public static let ok = WebhookReply(body: "ok\n")
    public static let jsonOK = WebhookReply(contentType: "application/json", body: #"{"result":"ok"}"#)
}

/// One provider's mapping from its webhook to beacons.
public protocol WebhookAdapter: Sendable {
    /// The path segment of `/v1/hooks/PROVIDER/SITE` and the `provider` metric label.
    static var provider: String { get }
    /// Maps `request` for `site`. `receivedMs` (the server's time of arrival)
    /// dates events whose payload carries no time; their ids come from the
    /// request alone (`WebhookEventID`), so a retry is still a repeat.
    func verdict(for request: WebhookRequest, site: UInt32, receivedMs: Int64) -> WebhookVerdict
}
