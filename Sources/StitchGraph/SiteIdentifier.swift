import StitchIdentity

/// An identifier of a site as the batch's cache key.
struct SiteIdentifier: Hashable {
    var site: UInt32
    var identifier: NormalizedIdentifier
}
