import NIOConcurrencyHelpers

/// Per-site beacons-per-second budgets on ingest (`site_beacons_per_second`):
/// one token bucket per site, shared by every transport and event loop, so a
/// site flooding the collector is refused before its beacons reach the
/// writer's queue and other sites' batches do not wait behind them.
///
/// A bucket holds one second of its rate (the burst a site may send at once)
/// and refills continuously. A batch is admitted only when every site in it
/// has tokens for its beacons; otherwise nothing is taken and the batch is
/// refused whole (`FrameError.overQuota`): its sender backs off and resends.
final class SiteQuotas: Sendable {
    /// Budgets by site; `defaultRate` for sites not named (nil: unlimited).
    let rates: [UInt32: Int]
    let defaultRate: Int?
    private let buckets = NIOLockedValueBox<[UInt32: Bucket]>([:])
    private let nowNanoseconds: @Sendable () -> Int64

    struct Bucket {
        var tokens: Double
        var updatedNanoseconds: Int64
    }

    /// - Parameter nowNanoseconds: the monotonic clock buckets refill by (tests inject one).
    init(rates: [UInt32: Int], defaultRate: Int?, nowNanoseconds: @escaping @Sendable () -> Int64 = IngestQueue.monotonicNanoseconds) {
        self.rates = rates
        self.defaultRate = defaultRate
        self.nowNanoseconds = nowNanoseconds
    }

    /// The budget of `site`, beacons per second (nil: unlimited).
    func rate(of site: UInt32) -> Int? {
        rates[site] ?? defaultRate
    }

    /// Takes `count` tokens from each site's bucket when all have enough and
    /// returns nil; otherwise takes nothing and returns the first site over
    /// its budget, with that budget.
    func admit(_ counts: [UInt32: Int]) -> (site: UInt32, beaconsPerSecond: Int)? {
        let now = nowNanoseconds()
        return buckets.withLockedValue { buckets in
            for (site, count) in counts.sorted(by: { $0.key < $1.key }) {
                guard let rate = rate(of: site) else { continue }
                var bucket = buckets[site] ?? Bucket(tokens: Double(rate), updatedNanoseconds: now)
                let elapsed = Double(max(0, now - bucket.updatedNanoseconds)) / 1e9
                bucket.tokens = min(Double(rate), bucket.tokens + elapsed * Double(rate))
                bucket.updatedNanoseconds = now
                buckets[site] = bucket
                if bucket.tokens < Double(count) { return (site, rate) }
            }
            for (site, count) in counts where rate(of: site) != nil {
                buckets[site]!.tokens -= Double(count)
            }
            return nil
        }
    }
}
