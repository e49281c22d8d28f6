#if canImport(Glibc)
import Glibc
#endif

/// How far this node has applied each partition's log, and the queries
/// waiting to see a position (`Request.min_position`: read-your-writes):
/// a cluster node's partitions, or a single node's shards with `ack_after =
/// log` (their group logs).
///
/// Appliers advance it after each commit; a waiting query blocks its heavy
/// query thread on the condition, bounded by `cluster_read_wait_ms`.
final class LogPositions: @unchecked Sendable {
    /// Partitions this node does not hold stay at 0 and are never reached.
    private var applied: [UInt64]
    /// `ack_after = log`: the last sequence logged (and so acked), by
    /// partition (a single node's shard); a cluster leaves it at 0.
    private var logged: [UInt64]
    private var held: [Bool]
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    init(partitions: Int, held: [Int]) {
        applied = Array(repeating: 0, count: partitions)
        logged = Array(repeating: 0, count: partitions)
        self.held = (0..<partitions).map { held.contains($0) }
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    var partitionCount: Int { applied.count }

    func holds(_ partition: Int) -> Bool { partition >= 0 && partition < held.count && held[partition] }

    /// The last sequence of `partition` applied here.
    func applied(_ partition: Int) -> UInt64 {
        locked { partition < applied.count ? applied[partition] : 0 }
    }

    /// The last sequence of `partition` logged here (`ack_after = log`).
    func logged(_ partition: Int) -> UInt64 {
        locked { partition < logged.count ? logged[partition] : 0 }
    }

    /// The writer logged `partition` through `sequence` (`ack_after = log`).
    func noteLogged(_ partition: Int, through sequence: UInt64) {
        locked { logged[partition] = max(logged[partition], sequence) }
    }

    /// The applier committed `partition` through `sequence`.
    func advance(_ partition: Int, to sequence: UInt64) {
        locked { applied[partition] = max(applied[partition], sequence) }
        pthread_cond_broadcast(&condition)
    }

    /// Whether `partition` is applied through `sequence` now, or becomes so
    /// within `waitMs`.
    func wait(_ partition: Int, through sequence: UInt64, waitMs: Int) -> Bool {
        guard holds(partition) else { return false }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let deadline = IngestQueue.monotonicNanoseconds() + Int64(waitMs) * 1_000_000
        while applied[partition] < sequence {
            if IngestQueue.monotonicNanoseconds() >= deadline { return false }
            var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            _ = pthread_cond_timedwait(&condition, &mutex, &until)
        }
        return true
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
