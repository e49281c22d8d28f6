/// Checks one decoded beacon against the rules of `proto/beacon.proto` and
/// the string limits of `WireLimits`. Identifier values are not normalized
/// here: that is the identity layer's job, and a bad value there costs only
/// that identifier, not the beacon.
public struct BeaconValidator: Sendable {
    /// The string and count limits it checks.
    public let limits: WireLimits

    public init(limits: WireLimits = .standard) {
        self.limits = limits
    }

    /// The first problem found, or `nil` for a beacon that may be stored.
    public func problem(in beacon: Stitch_V1_Beacon) -> (BeaconRejection.Reason, String)? {
        if beacon.site == 0 { return (.missingSite, "site is 0") }
        if beacon.timeMs <= 0 || beacon.timeMs > limits.timeMsMax {
            return (.badTime, "time_ms \(beacon.timeMs) is not a Unix time in milliseconds")
        }
        if beacon.deviceTimeMs < 0 || beacon.deviceTimeMs > limits.timeMsMax {
            return (.badTime, "device_time_ms \(beacon.deviceTimeMs) is not a Unix time in milliseconds")
        }
        if let problem = identifiersProblem(beacon.identifiers) { return problem }
        guard let body = beacon.body else { return (.missingBody, "no body, or one this server does not know") }
        if let problem = bodyProblem(body) { return problem }
        if case .leaseRenewal = body, !beacon.identifiers.contains(where: { $0.kind == .session }) {
            return (.noIdentifiers, "a lease renewal names its session (an identifier of kind SESSION)")
        }
        if beacon.identifiers.isEmpty && !Self.derivesIdentifier(body) {
            return (.noIdentifiers, "no identifier links this beacon to a person")
        }
        return nil
    }

    private func identifiersProblem(_ identifiers: [Stitch_V1_Identifier]) -> (BeaconRejection.Reason, String)? {
        guard identifiers.count <= limits.beaconIdentifiersMax else {
            return (.tooManyIdentifiers, "\(identifiers.count) identifiers, at most \(limits.beaconIdentifiersMax)")
        }
        for (index, identifier) in identifiers.enumerated() {
            switch identifier.kind {
            case .unspecified: return (.missingKind, "identifiers[\(index)] has no kind")
            case .UNRECOGNIZED(let raw): return (.missingKind, "identifiers[\(index)] has unknown kind \(raw)")
            default: break
            }
            if identifier.value.utf8.count > limits.identifierValueBytesMax {
                return tooLong("identifiers[\(index)].value", limits.identifierValueBytesMax)
            }
            if identifier.namespace.utf8.count > limits.identifierNamespaceBytesMax {
                return tooLong("identifiers[\(index)].namespace", limits.identifierNamespaceBytesMax)
            }
        }
        return nil
    }

    private func bodyProblem(_ body: Stitch_V1_Beacon.OneOf_Body) -> (BeaconRejection.Reason, String)? {
        let text = limits.textBytesMax, url = limits.urlBytesMax
        // Checked one field after another, not from a list of them: this runs
        // for every beacon, and a list would be an allocation each time.
        switch body {
        case .visit(let v):
            return tooLong("visit.utm_source", v.utmSource, text) ?? tooLong("visit.utm_medium", v.utmMedium, text)
                ?? tooLong("visit.utm_campaign", v.utmCampaign, text) ?? tooLong("visit.utm_content", v.utmContent, text)
                ?? tooLong("visit.utm_term", v.utmTerm, text) ?? tooLong("visit.referrer", v.referrer, url)
                ?? tooLong("visit.landing_url", v.landingURL, url) ?? tooLong("visit.gclid", v.gclid, text)
                ?? tooLong("visit.yclid", v.yclid, text) ?? tooLong("visit.fbclid", v.fbclid, text)
        case .hit(let h):
            return tooLong("hit.url", h.url, url) ?? tooLong("hit.goal", h.goal, text)
        case .numberShown(let n):
            return tooLong("number_shown.tracking_number", n.trackingNumber, text)
        case .form(let f):
            return tooLong("form.form_id", f.formID, text) ?? tooLong("form.page_url", f.pageURL, url)
                ?? tooLong("form.phone", f.phone, text) ?? tooLong("form.email", f.email, text)
                ?? tooLong("form.name", f.name, text)
        case .call(let c):
            return tooLong("call.call_id", c.callID, text) ?? tooLong("call.caller_phone", c.callerPhone, text)
                ?? tooLong("call.tracking_number", c.trackingNumber, text)
        case .chat(let c):
            return tooLong("chat.provider", c.provider, text) ?? tooLong("chat.chat_id", c.chatID, text)
                ?? tooLong("chat.visitor_id", c.visitorID, text) ?? tooLong("chat.phone", c.phone, text)
                ?? tooLong("chat.email", c.email, text)
        case .deal(let d):
            switch d.status {
            case .unspecified, .UNRECOGNIZED: return (.badStatus, "deal.status \(d.status.rawValue) is not a status")
            default: break
            }
            return tooLong("deal.crm", d.crm, text) ?? tooLong("deal.deal_id", d.dealID, text)
                ?? tooLong("deal.contact_id", d.contactID, text) ?? tooLong("deal.currency", d.currency, text)
        case .leaseRenewal(let r):
            return tooLong("lease_renewal.tracking_number", r.trackingNumber, text)
        }
    }

    /// The rejection of field `name` if `value` is over `max` bytes.
    private func tooLong(_ name: StaticString, _ value: String, _ max: Int) -> (BeaconRejection.Reason, String)? {
        value.utf8.count > max ? tooLong("\(name)", max) : nil
    }

    private func tooLong(_ field: String, _ max: Int) -> (BeaconRejection.Reason, String) {
        (.stringTooLong, "\(field) is over \(max) bytes")
    }

    /// Whether the body carries a field the server turns into an identifier,
    /// as listed in `proto/beacon.proto`. A call needs none: call tracking can
    /// link it by its tracking number. A deal's id may stand for its contact:
    /// the server remembers the contact a deal was last seen with.
    static func derivesIdentifier(_ body: Stitch_V1_Beacon.OneOf_Body) -> Bool {
        switch body {
        case .form(let f): !f.phone.isEmpty || !f.email.isEmpty
        case .call: true
        case .chat(let c): !c.chatID.isEmpty || !c.phone.isEmpty || !c.email.isEmpty
        case .deal(let d): !d.contactID.isEmpty || !d.dealID.isEmpty
        case .visit, .hit, .numberShown, .leaseRenewal: false
        }
    }
}
