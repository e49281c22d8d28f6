import Synchronization

/// Requests per second per client address on the HTTP intake: a token
/// bucket per address (burst = one second's worth), the table bounded by
/// forgetting full buckets when it grows past `addressesMax`.
final class IntakeRateLimiter: Sendable {
    let requestsPerSecond: Int
    static let addressesMax = 100_000

    private struct Bucket {
        var tokens: Double
        var updatedNanoseconds: UInt64
    }

    private let buckets = Mutex<[String: Bucket]>([:])

    init(requestsPerSecond: Int) {
        precondition(requestsPerSecond > 0)
        self.requestsPerSecond = requestsPerSecond
    }

    /// Takes one request's token for `address`; false when it has none left.
    func admit(_ address: String, nowNanoseconds: UInt64) -> Bool {
        let rate = Double(requestsPerSecond)
        return buckets.withLock { buckets in
            var bucket = buckets[address] ?? Bucket(tokens: rate, updatedNanoseconds: nowNanoseconds)
            let elapsed = Double(nowNanoseconds &- bucket.updatedNanoseconds) / 1e9
            bucket.tokens = min(rate, bucket.tokens + elapsed * rate)
            bucket.updatedNanoseconds = nowNanoseconds
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            buckets[address] = bucket
            if buckets.count > Self.addressesMax {
                buckets = buckets.filter { $0.value.tokens < rate - 1 }
            }
            return admitted
        }
    }
}
