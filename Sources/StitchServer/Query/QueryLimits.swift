/// Fixed bounds of the query protocol's requests, beside `WireLimits` (frames)
/// and `GraphLimits` (reads). The configurable ones (response size, pipelined
/// requests) are settings in `ServerConfiguration`.
enum QueryLimits {
    /// Most persons in one batch lookup.
    static let batchLookupPersonsMax = 1000
    /// Merges per `merges since` page when the client asks for none.
    static let mergesDefault = 1000
    /// Largest `merges since` page; larger limits are clamped to it.
    static let mergesMax = 10_000
}
