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
    /// Finds the contact of a deal that names none (nil: such a deal keeps none).
    private let deals: (any DealDirectory)?

    /// A preparer that judges identifiers by `rules` and finds the contacts
    /// of deals that name none in `deals` (both the graph, in a server).
    public init(rules: any SiteJunkRules, deals: (any DealDirectory)? = nil) {
        normalizers = NormalizerCache(rules: rules)
        self.deals = deals
    }

    /// Normalizes and encodes one validated beacon.
    ///
    /// - Parameter receivedMs: the server's time of arrival, stored with the event.
    public mutating func prepare(_ beacon: Stitch_V1_Beacon, receivedMs: Int64) -> PreparedEvent {
        let normalizer = normalizers.normalizer(site: beacon.site)
        var refused: [RefusedIdentifier] = []
        var identifiers = Self.normalizedIdentifiers(of: beacon, normalizer: normalizer, refused: &refused)
        var trackingNumber: String?
        var dealKey: String?
        var dealContactIndex: Int?
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
        case .deal(let deal):
            dealKey = try? normalizer.normalize(.crmContact, deal.dealID, namespace: deal.crm).value
            if let contact = try? normalizer.normalize(.crmContact, deal.contactID, namespace: deal.crm) {
                dealContactIndex = identifiers.firstIndex(of: contact)
            } else if deal.contactID.isEmpty, let dealKey, let contact = deals?.dealContact(site: beacon.site, dealKey: dealKey) {
                // A status change that names the deal only: its contact is
                // the one the deal was last seen with.
                if !identifiers.contains(contact) { identifiers.append(contact) }
                dealContactIndex = identifiers.firstIndex(of: contact)
            }
        default:
            break
        }
        return PreparedEvent(
            site: beacon.site,
            eventID: beacon.eventID,
            timeMs: beacon.timeMs,
            receivedMs: receivedMs,
            type: EventType(beacon.body),
            identifiers: identifiers,
            refused: refused,
            body: StoredBeacon.encode(beacon),
            trackingNumber: trackingNumber,
            callStartMs: callStartMs,
            callerPhoneIndex: callerPhoneIndex,
            dealKey: dealKey,
            dealContactIndex: dealContactIndex)
    }

    /// A lease renewal's session and the number its page shows (nil: any),
    /// normalized; nil when the session id is refused. Renewals are not
    /// events: nothing else of the beacon is kept.
    public mutating func renewal(_ beacon: Stitch_V1_Beacon) -> (session: String, trackingNumber: String?)? {
        guard case .leaseRenewal(let renewal) = beacon.body else { return nil }
        let normalizer = normalizers.normalizer(site: beacon.site)
        for identifier in beacon.identifiers where identifier.kind == .session {
            if let session = try? normalizer.normalize(.session, identifier.value) {
                let number = renewal.trackingNumber.isEmpty ? nil : try? trackingNumberNormalizer.normalize(.phone, renewal.trackingNumber).value
                return (session.value, number)
            }
        }
        return nil
    }

    /// The event's identifiers, normalized and without repeats: the explicit
    /// ones in order, then those derived from the body (proto/beacon.proto).
    /// Refused values are dropped and reported in `refused`. Public so that
    /// tools (the load harness) derive identifiers exactly as the writer does.
    public static func normalizedIdentifiers(
        of beacon: Stitch_V1_Beacon,
        normalizer: IdentifierNormalizer,
        refused: inout [RefusedIdentifier]
    ) -> [NormalizedIdentifier] {
        var result: [NormalizedIdentifier] = []
        result.reserveCapacity(beacon.identifiers.count + 2)
        func add(_ kind: IdentifierKind, _ raw: String, namespace: String? = nil, field: @autoclosure () -> String) {
            do {
                let identifier = try normalizer.normalize(kind, raw, namespace: namespace)
                if !result.contains(identifier) { result.append(identifier) }
            } catch {
                refused.append(RefusedIdentifier(kind: kind, reason: error, field: field()))
            }
        }
        for (index, identifier) in beacon.identifiers.enumerated() {
            // Validated beacons carry known kinds only.
            guard let kind = IdentifierKind(identifier.kind) else { continue }
            add(kind, identifier.value, namespace: identifier.namespace, field: "identifiers[\(index)]")
        }
        switch beacon.body {
        case .form(let form):
            if !form.phone.isEmpty { add(.phone, form.phone, field: "form.phone") }
            if !form.email.isEmpty { add(.email, form.email, field: "form.email") }
        case .call(let call):
            if !call.callerPhone.isEmpty { add(.phone, call.callerPhone, field: "call.caller_phone") }
        case .chat(let chat):
            if !chat.chatID.isEmpty { add(.chat, chat.chatID, namespace: chat.provider, field: "chat.chat_id") }
            if !chat.phone.isEmpty { add(.phone, chat.phone, field: "chat.phone") }
            if !chat.email.isEmpty { add(.email, chat.email, field: "chat.email") }
        case .deal(let deal):
            if !deal.contactID.isEmpty {
                add(.crmContact, deal.contactID, namespace: deal.crm, field: "deal.contact_id")
            }
        case .visit, .hit, .numberShown, .leaseRenewal, nil:
            break
        }
        return result
    }
}
