import StitchIdentity

/// One normalizer per site, rebuilt when the site rules' generation moves.
///
/// Building a normalizer copies the site's junk rules, so ingest and query
/// connections keep one cache each instead of building one per beacon or
/// request. Not thread-safe: one per thread or connection.
public struct NormalizerCache: Sendable {
    private let rules: any SiteJunkRules
    private var normalizers: [UInt32: IdentifierNormalizer] = [:]
    private var generation: UInt64

    public init(rules: any SiteJunkRules) {
        self.rules = rules
        generation = rules.junkGeneration
    }

    /// The normalizer of `site`'s identifiers under its current rules.
    public mutating func normalizer(site: UInt32) -> IdentifierNormalizer {
        let current = rules.junkGeneration
        if current != generation {
            normalizers.removeAll()  // some site's rules changed: rebuild lazily
            generation = current
        }
        if let cached = normalizers[site] { return cached }
        let normalizer = IdentifierNormalizer(junk: rules.junkRules(site: site))
        normalizers[site] = normalizer
        return normalizer
    }
}

/// Fixed rules: the same for every site, never changing. For tools and tests
/// that judge identifiers without a graph.
public struct FixedJunkRules: SiteJunkRules {
    public let rules: JunkRules
    public var junkGeneration: UInt64 { 0 }

    public init(_ rules: JunkRules = .standard) {
        self.rules = rules
    }

    public func junkRules(site: UInt32) -> JunkRules { rules }
}
