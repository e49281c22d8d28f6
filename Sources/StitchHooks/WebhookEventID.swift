import Crypto

/// The event id of a webhook event, derived from the request alone, so that a
/// provider's retry of the same request is the same event (FRAMING.md,
/// "Exactly once"): a hash of the provider, the site, the raw body and the
/// beacon's position in it. The store recognises an id for its dedup window
/// of arrival whatever the event's time, so a retry is a repeat even when
/// its payload carries no time (Jivo's `chat_accepted`, dated by arrival) and
/// across server restarts.
public enum WebhookEventID {
    /// The event id of the beacon at `index` made from `body` (never 0).
    public static func make(provider: String, site: UInt32, body: [UInt8], index: Int) -> UInt64 {
        var hasher = SHA256()
        hasher.update(data: Array("\(provider)|\(site)|\(index)|".utf8))
        hasher.update(data: body)
        let id = hasher.finalize().withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        return id == 0 ? 1 : id
    }
}
