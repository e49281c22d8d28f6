import StitchIdentity
import StitchWire

/// Prepares validated beacons for the identity graph: normalizes their
/// identifiers (explicit and derived from the body), reads the call-tracking
/// facts the writer needs, and encodes the body the graph stores.
///
/// Keeps one `NormalizerCache`. Not thread-safe: one per thread or connection.
public struct EventPreparer: Sendable {
    private var normalizers: NormalizerCache
    /// Tracking numbers are phones judged without the site's own numbers as junk.
    private let trackingNumberNormalizer = IdentifierNormalizer(junk: .standard)

    /// A preparer that judges identifiers by `rules` (the graph's, in a server).
    public init(rules: any SiteJunkRules) {
        normalizers = NormalizerCache(rules: rules)
    }

    /// Normalizes and encodes one validated beacon.
    ///
    /// - Parameter receivedMs: the server's time of arrival, stored with the event.
    public mutating func prepare(_ beacon: Stitch_V1_Beacon, receivedMs: Int64) -> PreparedEvent {
        let normalizer = normalizers.normalizer(site: beacon.site)
        var rejected: [String] = []
        let identifiers = Self.normalizedIdentifiers(of: beacon, normalizer: normalizer, rejected: &rejected)
        var trackingNumber: String?
        var callStartMs = beacon.timeMs
        var callerPhoneIndex: Int?
        switch beacon.body {
        case .numberShown(let shown):
            trackingNumber = try? trackingNumberNormalizer.normalize(.phone, shown.trackingNumber).value
        case .call(let call):
            trackingNumber = try? trackingNumberNormalizer.normalize(.phone, call.trackingNumber).value
            if call.startedAtMs > 0 { callStartMs = call.startedAtMs }
            if let caller = try? normalizer.normalize(.phone, call.callerPhone) {
                callerPhoneIndex = identifiers.firstIndex(of: caller)
            }
        default:
            break
        }
        return PreparedEvent(
            site: beacon.site,
            timeMs: beacon.timeMs,
            receivedMs: receivedMs,
            type: EventType(beacon.body),
            identifiers: identifiers,
            rejectedCodes: rejected,
            body: StoredBeacon.encode(beacon),
            trackingNumber: trackingNumber,
            callStartMs: callStartMs,
            callerPhoneIndex: callerPhoneIndex)
    }

    /// The event's identifiers, normalized and without repeats: the explicit
    /// ones in order, then those derived from the body (proto/beacon.proto).
    /// Rejected values are dropped and their codes collected. Public so that
    /// tools (the load harness) derive identifiers exactly as the writer does.
    public static func normalizedIdentifiers(
        of beacon: Stitch_V1_Beacon,
        normalizer: IdentifierNormalizer,
        rejected: inout [String]
    ) -> [NormalizedIdentifier] {
        var result: [NormalizedIdentifier] = []
        result.reserveCapacity(beacon.identifiers.count + 2)
        func add(_ kind: IdentifierKind, _ raw: String, namespace: String? = nil) {
            do {
                let identifier = try normalizer.normalize(kind, raw, namespace: namespace)
                if !result.contains(identifier) { result.append(identifier) }
            } catch {
                rejected.append(error.code)
            }
        }
        for identifier in beacon.identifiers {
            // Validated beacons carry known kinds only.
            guard let kind = IdentifierKind(identifier.kind) else { continue }
            add(kind, identifier.value, namespace: identifier.namespace)
        }
        switch beacon.body {
        case .form(let form):
            if !form.phone.isEmpty { add(.phone, form.phone) }
            if !form.email.isEmpty { add(.email, form.email) }
        case .call(let call):
            if !call.callerPhone.isEmpty { add(.phone, call.callerPhone) }
        case .chat(let chat):
            if !chat.chatID.isEmpty { add(.chat, chat.chatID, namespace: chat.provider) }
            if !chat.phone.isEmpty { add(.phone, chat.phone) }
            if !chat.email.isEmpty { add(.email, chat.email) }
        case .deal(let deal):
            if !deal.contactID.isEmpty { add(.crmContact, deal.contactID, namespace: deal.crm) }
        case .visit, .hit, .numberShown, nil:
            break
        }
        return result
    }
}
