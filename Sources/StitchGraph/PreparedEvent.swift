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
    /// Position in `identifiers` of the session that holds leases.
    let sessionIndex: Int?
    /// `number_shown` and calls: the tracking number in E.164.
    let trackingNumber: String?
    /// Calls: when the call started (event time), and the caller's phone's
    /// position in `identifiers` (absent when hidden or refused).
    let callStartMs: Int64
    let callerPhoneIndex: Int?
}

/// Prepares beacons for `IdentityGraph.apply(_:)`. Keeps one normalizer per
/// site (building one copies the site's junk rules). Not thread-safe: one per
/// thread or connection.
public struct EventPreparer {
    private let configuration: GraphConfiguration
    private let callTracking: CallTracking
    private var normalizers: [UInt32: IdentifierNormalizer] = [:]
    private var normalizersGeneration: UInt64
    /// Tracking numbers are phones judged without the site's own numbers as junk.
    private let trackingNumberNormalizer = IdentifierNormalizer(junk: .standard)

    public init(configuration: GraphConfiguration, callTracking: CallTracking = CallTracking()) {
        self.configuration = configuration
        self.callTracking = callTracking
        normalizersGeneration = callTracking.generation
    }

    /// A preparer for `graph`'s rules and number pools.
    public init(graph: IdentityGraph) {
        self.init(configuration: graph.configuration, callTracking: graph.callTracking)
    }

    /// Normalizes and encodes one validated beacon.
    ///
    /// - Parameter receivedMs: the server's time of arrival, stored with the event.
    public mutating func prepare(_ beacon: Stitch_V1_Beacon, receivedMs: Int64) -> PreparedEvent {
        let normalizer = normalizer(for: beacon.site)
        var rejected: [String] = []
        let identifiers = Self.normalizedIdentifiers(of: beacon, normalizer: normalizer, rejected: &rejected)
        let type = EventType(beacon.body)
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
            type: type,
            identifiers: identifiers,
            stored: StoredEvent.encode(beacon, identifiers: identifiers, type: type, receivedMs: receivedMs),
            rejectedCodes: rejected,
            sessionIndex: identifiers.firstIndex { $0.kind == .session },
            trackingNumber: trackingNumber,
            callStartMs: callStartMs,
            callerPhoneIndex: callerPhoneIndex)
    }

    private mutating func normalizer(for site: UInt32) -> IdentifierNormalizer {
        let generation = callTracking.generation
        if generation != normalizersGeneration {
            normalizers.removeAll()  // a pool changed: office numbers may have
            normalizersGeneration = generation
        }
        if let cached = normalizers[site] { return cached }
        let normalizer = IdentifierNormalizer(junk: Self.junk(site: site, configuration, callTracking))
        normalizers[site] = normalizer
        return normalizer
    }

    /// A site's junk rules: its configured ones plus its pool's office numbers.
    static func junk(site: UInt32, _ configuration: GraphConfiguration, _ callTracking: CallTracking) -> JunkRules {
        var junk = configuration.rules(for: site).junk
        junk.phones.formUnion(callTracking.pool(site: site).officeNumbers)
        return junk
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
