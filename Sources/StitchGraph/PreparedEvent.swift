import StitchIdentity
import StitchWire

/// A beacon made ready for the writer: identifiers normalized (explicit and
/// derived from the body) and the stored form encoded. Preparing needs no
/// transaction, so the server does it on its event loops and leaves the
/// single writer only the graph work.
public struct PreparedEvent: Sendable {
    public let site: UInt32
    public let timeMs: Int64
    let type: EventType
    let identifiers: [NormalizedIdentifier]
    /// `StoredEvent` bytes: what the event table holds.
    let stored: [UInt8]
    /// Codes of identifiers refused by normalization (counted, not stored).
    let rejectedCodes: [String]
}

/// Prepares beacons for `IdentityGraph.apply(_:)`. Keeps one normalizer per
/// site (building one copies the site's junk rules). Not thread-safe: one per
/// thread or connection.
public struct EventPreparer {
    private let configuration: GraphConfiguration
    private var normalizers: [UInt32: IdentifierNormalizer] = [:]

    public init(configuration: GraphConfiguration) {
        self.configuration = configuration
    }

    /// Normalizes and encodes one validated beacon.
    ///
    /// - Parameter receivedMs: the server's time of arrival, stored with the event.
    public mutating func prepare(_ beacon: Stitch_V1_Beacon, receivedMs: Int64) -> PreparedEvent {
        let normalizer = normalizer(for: beacon.site)
        var rejected: [String] = []
        let identifiers = Self.normalizedIdentifiers(of: beacon, normalizer: normalizer, rejected: &rejected)
        let type = EventType(beacon.body)
        return PreparedEvent(
            site: beacon.site,
            timeMs: beacon.timeMs,
            type: type,
            identifiers: identifiers,
            stored: StoredEvent.encode(beacon, identifiers: identifiers, type: type, receivedMs: receivedMs),
            rejectedCodes: rejected)
    }

    private mutating func normalizer(for site: UInt32) -> IdentifierNormalizer {
        if let cached = normalizers[site] { return cached }
        let normalizer = IdentifierNormalizer(junk: configuration.rules(for: site).junk)
        normalizers[site] = normalizer
        return normalizer
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
            guard let kind = IdentifierKind(rawValue: UInt8(clamping: identifier.kind.rawValue)) else { continue }
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
