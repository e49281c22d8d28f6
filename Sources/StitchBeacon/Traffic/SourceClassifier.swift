import Foundation
import StitchWire

/// Sorts a visit into its source and channel by `SourceRules`, in order:
/// 1. utm tags (lower-cased, trimmed) win;
/// 2. a paid click id on the landing page (`gclid`, `yclid`, …);
/// 3. the referrer: a payment gateway or the site's own domain is no new
///    touch (the visit continues the last source); a known search engine,
///    network or messenger is its channel; any other host is a referral;
/// 4. an unpaid click marker (`fbclid`, `ysclid`) when there is no referrer;
/// 5. direct.
///
/// Pure and cheap (a few string comparisons per visit): sources are computed
/// when a history is read, so stores re-attribute as rules change.
public struct SourceClassifier: Hashable, Sendable {
    /// The site's own domains (subdomains included): referrers from them are
    /// internal. The landing page's own registrable domain always is.
    public var siteDomains: [String]
    /// Referrers that are no new touch, beside `SourceRules.excludedReferrers`.
    public var extraExclusions: [String]

    public init(siteDomains: [String] = [], extraExclusions: [String] = []) {
        self.siteDomains = siteDomains.map { $0.lowercased() }
        self.extraExclusions = extraExclusions.map { $0.lowercased() }
    }

    /// A visit's source, or nil when it is no new touch (a return from a
    /// payment page, a link from the site itself).
    public func source(of visit: Stitch_V1_Visit) -> Stitch_V1_Source? {
        let utmSource = Self.tag(visit.utmSource), utmMedium = Self.tag(visit.utmMedium)
        if !utmSource.isEmpty || !utmMedium.isEmpty {
            return .with {
                $0.kind = .utm
                $0.source = utmSource
                $0.medium = utmMedium
                $0.campaign = Self.tag(visit.utmCampaign)
                $0.channel = Self.channel(medium: utmMedium, source: utmSource)
            }
        }
        let query = Self.queryParameters(of: visit.landingURL)
        func has(_ parameter: String) -> Bool {
            switch parameter {
            case "gclid": !visit.gclid.isEmpty || query.contains(parameter)
            case "yclid": !visit.yclid.isEmpty || query.contains(parameter)
            case "fbclid": !visit.fbclid.isEmpty || query.contains(parameter)
            default: query.contains(parameter)
            }
        }
        if let click = SourceRules.paidClickIDs.first(where: { has($0.parameter) }) {
            return Self.source(.clickID, click.source, click.medium, click.channel)
        }
        if let referrer = Self.host(of: visit.referrer) {
            let landing = Self.host(of: visit.landingURL)
            if isInternal(referrer, landing: landing) || isExcluded(referrer) { return nil }
            if let rule = SourceRules.referrers.first(where: { Self.matches(referrer, $0.domain) }) {
                return Self.source(.referrer, rule.source, rule.medium, rule.channel)
            }
            return Self.source(.referrer, referrer, "referral", .referral)
        }
        if let marker = SourceRules.unpaidMarkers.first(where: { has($0.parameter) }) {
            return Self.source(.clickID, marker.source, marker.medium, marker.channel)
        }
        return Self.source(.direct, "", "", .direct)
    }

    /// The channel of utm tags: by medium; paid media by source.
    public static func channel(medium: String, source: String) -> Stitch_V1_Channel {
        if SourceRules.paidMedia.contains(medium) {
            return SourceRules.socialSources.contains(source) || medium.contains("social") ? .paidSocial : .paidSearch
        }
        if let channel = SourceRules.media[medium] { return channel }
        if medium.isEmpty, SourceRules.socialSources.contains(source) { return .social }
        return .other
    }

    func isInternal(_ host: String, landing: String?) -> Bool {
        if siteDomains.contains(where: { Self.matches(host, $0) }) { return true }
        guard let landing else { return false }
        return Self.registrableDomain(host) == Self.registrableDomain(landing)
    }

    func isExcluded(_ host: String) -> Bool {
        SourceRules.excludedReferrers.contains { Self.matches(host, $0) } || extraExclusions.contains { Self.matches(host, $0) }
    }

    // MARK: Helpers

    private static func source(
        _ kind: Stitch_V1_SourceKind, _ source: String, _ medium: String, _ channel: Stitch_V1_Channel
    ) -> Stitch_V1_Source {
        .with {
            $0.kind = kind
            $0.source = source
            $0.medium = medium
            $0.channel = channel
        }
    }

    /// A utm value as compared: trimmed, lower-cased.
    static func tag(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// Whether `host` matches a rule's domain: itself or a subdomain; a
    /// trailing `*` stands for a top-level domain of one or two short labels.
    static func matches(_ host: String, _ domain: String) -> Bool {
        guard domain.hasSuffix(".*") else { return host == domain || host.hasSuffix("." + domain) }
        let stem = domain.dropLast(2).split(separator: ".")
        let labels = host.split(separator: ".")
        guard labels.count > stem.count else { return false }
        for start in 0...(labels.count - stem.count - 1) where labels[start..<(start + stem.count)].elementsEqual(stem) {
            let tld = labels[(start + stem.count)...]
            if (1...2).contains(tld.count) && tld.allSatisfy({ $0.count <= 3 && $0.allSatisfy(\.isLetter) }) { return true }
        }
        return false
    }

    /// The domain a company registers: the last two labels, or three under
    /// a two-label public suffix (`shop.com.ru`, `shop.msk.ru`, `shop.co.uk`).
    static func registrableDomain(_ host: String) -> String {
        let labels = host.split(separator: ".")
        // An IP address is its own domain.
        guard labels.count > 2, !host.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) else { return host }
        let secondLevel = ["com", "co", "org", "net", "msk", "spb", "gov", "edu", "ac"]
        let count = secondLevel.contains(String(labels[labels.count - 2])) ? 3 : 2
        return labels.suffix(count).joined(separator: ".")
    }

    /// The host of a URL, lower-cased, without `www.`; nil when there is none.
    static func host(of url: String) -> String? {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let at = rest.firstIndex(of: "@"), !rest[..<at].contains("/") { rest = rest[rest.index(after: at)...] }
        let end = rest.firstIndex { $0 == "/" || $0 == ":" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var host = rest[..<end].lowercased()
        if host.hasPrefix("www.") { host.removeFirst(4) }
        return host.isEmpty ? nil : host
    }

    /// The names of a URL's query parameters that carry a value.
    static func queryParameters(of url: String) -> Set<String> {
        guard let question = url.firstIndex(of: "?") else { return [] }
        let query = url[url.index(after: question)...].prefix { $0 != "#" }
        var names: Set<String> = []
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, !parts[1].isEmpty { names.insert(parts[0].lowercased()) }
        }
        return names
    }
}
