import NIOConcurrencyHelpers

/// Per-site beacons-per-second budgets on ingest (`site_beacons_per_second`),
/// shared by every transport and event loop, so a site flooding the
/// collector is refused before its beacons reach the writer's queue.
typealias SiteQuotas = RateBudgets<UInt32>

/// Per-token requests-per-second budgets on queries
/// (`token_requests_per_second`, by grant name), for both transports.
typealias TokenBudgets = RateBudgets<String>

/// Rate budgets by key: one token bucket per key.
///
/// A bucket holds `burstSeconds` of its rate and refills continuously. A
/// request is admitted while every key it names has tokens left, and may
/// overdraw them (a batch larger than the bucket still gets in, and the
/// bucket's debt is repaid before the next); otherwise nothing is taken: a
/// batch of several sites is refused whole (`FrameError.overQuota`), and its
/// sender backs off and resends. Over time a key is admitted at its rate,
/// give or take a bucket and one request.
///
/// Ingest quotas keep a tenth of a second: a flood held to its quota then
/// reaches the writer smoothly, not as one second's worth of beacons each
/// time the bucket refills, which would land in one commit beside the other
/// sites' beacons and delay their acks (`ops/quota-bench.sh`).
final class RateBudgets<Key: Hashable & Comparable & Sendable>: Sendable {
    /// Budgets by key; `defaultRate` for keys not named (nil: unlimited).
    let rates: [Key: Int]
    let defaultRate: Int?
    /// Seconds of its rate a bucket holds.
    let burstSeconds: Double
    private let buckets = NIOLockedValueBox<[Key: Bucket]>([:])
    private let nowNanoseconds: @Sendable () -> Int64
    /// Buckets kept before full ones are dropped. Keys come from the
    /// network (any site number), so the table is bounded: a full bucket
    /// is what a missing one starts as, so dropping it changes nothing.
    static var bucketsKeptMax: Int { 4096 }

    struct Bucket {
        var tokens: Double
        var updatedNanoseconds: Int64
    }

    /// - Parameter nowNanoseconds: the monotonic clock buckets refill by (tests inject one).
    init(
        rates: [Key: Int], defaultRate: Int?, burstSeconds: Double = 1,
        nowNanoseconds: @escaping @Sendable () -> Int64 = IngestQueue.monotonicNanoseconds
    ) {
        self.rates = rates
        self.defaultRate = defaultRate
        self.burstSeconds = burstSeconds
        self.nowNanoseconds = nowNanoseconds
    }

    /// The budget of `key` per second (nil: unlimited).
    func rate(of key: Key) -> Int? {
        rates[key] ?? defaultRate
    }

    /// Takes `count` tokens from each key's bucket when all have some left
    /// (overdrawing them) and returns nil; otherwise takes nothing and
    /// returns the first key over its budget, with that budget and the
    /// time until its bucket has tokens again.
    func admit(_ counts: [Key: Int]) -> (key: Key, perSecond: Int, retryAfterNanoseconds: Int64)? {
        let now = nowNanoseconds()
        return buckets.withLockedValue { buckets in
            for (key, count) in counts.sorted(by: { $0.key < $1.key }) {
                guard let rate = rate(of: key) else { continue }
                let capacity = Double(rate) * burstSeconds
                var bucket = buckets[key] ?? Bucket(tokens: capacity, updatedNanoseconds: now)
                let elapsed = Double(max(0, now - bucket.updatedNanoseconds)) / 1e9
                bucket.tokens = min(capacity, bucket.tokens + elapsed * Double(rate))
                bucket.updatedNanoseconds = now
                buckets[key] = bucket
                if count > 0 && bucket.tokens <= 0 {
                    return (key, rate, Int64(-bucket.tokens / Double(rate) * 1e9) + 1_000_000)
                }
            }
            for (key, count) in counts where rate(of: key) != nil {
                buckets[key]!.tokens -= Double(count)
            }
            if buckets.count > Self.bucketsKeptMax {
                buckets = buckets.filter { key, bucket in
                    let rate = Double(rate(of: key) ?? 0)
                    return bucket.tokens + Double(max(0, now - bucket.updatedNanoseconds)) / 1e9 * rate < rate * burstSeconds
                }
            }
            return nil
        }
    }

    /// Buckets held now (tests of the bound).
    var bucketCount: Int { buckets.withLockedValue { $0.count } }
}
