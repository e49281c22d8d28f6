/// Where each site's junk rules come from, and a generation that changes when
/// any of them changes (an operator set a number pool whose office numbers are
/// junk phones). Holders of derived data (`NormalizerCache`) rebuild it when
/// the generation moves.
public protocol SiteJunkRules: Sendable {
    /// Changes whenever the rules of any site change.
    var junkGeneration: UInt64 { get }
    /// The rules `site`'s identifiers are judged by now.
    func junkRules(site: UInt32) -> JunkRules
}
