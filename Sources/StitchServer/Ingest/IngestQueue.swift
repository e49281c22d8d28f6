#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DequeModule

/// The bounded queue between the event loops (producers) and the single
/// writer thread (consumer), bounded by beacons rather than batches so that
/// memory is bounded whatever the batch sizes.
///
/// Producers never block: `offer` says `.full` and the producer decides (TCP
/// pauses reading and asks `whenSpace` to be called back; UDP drops and
/// counts). The writer blocks in `takeGroup` on a condition variable.
final class IngestQueue: @unchecked Sendable {
    enum Offer: Equatable {
        case accepted
        case full
        case closed
    }

    /// Beacons queued at most (a single batch larger than the free room is
    /// still taken when the queue is empty, so no batch can starve).
    let beaconsMax: Int

    // Guarded by `mutex`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var items = Deque<IngestItem>()
    private var beaconsQueued = 0
    private var closed = false
    private var spaceWaiters: [@Sendable () -> Void] = []

    init(beaconsMax: Int) {
        precondition(beaconsMax > 0)
        self.beaconsMax = beaconsMax
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Beacons waiting now (for the queue-depth gauge).
    var depth: Int {
        locked { beaconsQueued }
    }

    /// Hands a batch to the writer unless the queue is full or closed.
    func offer(_ item: IngestItem) -> Offer {
        let result: Offer = locked {
            if closed { return .closed }
            let count = item.weight
            guard beaconsQueued == 0 || beaconsQueued + count <= beaconsMax else { return .full }
            items.append(item)
            beaconsQueued += count
            return .accepted
        }
        if result == .accepted { pthread_cond_signal(&condition) }
        return result
    }

    /// Calls `callback` once, from the writer thread, after the writer next
    /// takes batches off the queue (or when it closes). A producer that was
    /// told `.full` retries then.
    func whenSpace(_ callback: @escaping @Sendable () -> Void) {
        let callNow: Bool = locked {
            if closed || beaconsQueued == 0 { return true }
            spaceWaiters.append(callback)
            return false
        }
        if callNow { callback() }
    }

    /// Queues one batch, waiting for room as long as it takes: the async
    /// twin of what a TCP connection does through its state machine (which
    /// stops reading instead). False when the queue is closed (the server
    /// is stopping); the caller answers `FrameError.shuttingDown`.
    func offerWaitingForRoom(_ item: IngestItem) async -> Bool {
        while true {
            switch offer(item) {
            case .accepted: return true
            case .closed: return false
            case .full: await withCheckedContinuation { continuation in whenSpace { continuation.resume() } }
            }
        }
    }

    /// Whether `close()` was called: the server is stopping.
    var isClosed: Bool { locked { closed } }

    /// Refuses further offers; the writer drains what is queued, then
    /// `takeGroup` returns nil.
    func close() {
        let waiters: [@Sendable () -> Void] = locked {
            closed = true
            defer { spaceWaiters = [] }
            return spaceWaiters
        }
        pthread_cond_broadcast(&condition)
        for waiter in waiters { waiter() }
    }

    /// The writer's side: waits for a first batch, then for more until the
    /// group holds `beaconsMax` beacons or `waitNanoseconds` have passed since
    /// the first arrived. Returns nil once the queue is closed and empty.
    func takeGroup(beaconsMax groupMax: Int, waitNanoseconds: Int64) -> [IngestItem]? {
        pthread_mutex_lock(&mutex)
        while items.isEmpty && !closed {
            pthread_cond_wait(&condition, &mutex)
        }
        if items.isEmpty {
            pthread_mutex_unlock(&mutex)
            return nil
        }
        let deadline = Self.monotonicNanoseconds() + waitNanoseconds
        while beaconsQueued < groupMax && !closed {
            let now = Self.monotonicNanoseconds()
            if now >= deadline { break }
            var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            _ = pthread_cond_timedwait(&condition, &mutex, &until)
        }
        var group: [IngestItem] = []
        var taken = 0
        while let first = items.first, group.isEmpty || taken + first.weight <= groupMax {
            items.removeFirst()
            taken += first.weight
            group.append(first)
        }
        beaconsQueued -= taken
        let waiters = spaceWaiters
        spaceWaiters = []
        pthread_mutex_unlock(&mutex)
        for waiter in waiters { waiter() }
        return group
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock the condition waits on.
    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

extension IngestQueue {
    /// The ingest consumers' loop (the writers, the cluster's publisher):
    /// takes each group — up to `beaconsMax` beacons, waiting at most
    /// `waitNanoseconds` for it to fill — lets `handle` decide every batch's
    /// outcome, and answers the senders, until the queue is closed and empty.
    func consumeGroups(
        beaconsMax: Int, waitNanoseconds: Int64, metrics: ServerMetrics, _ handle: ([IngestItem]) -> [BatchOutcome]
    ) {
        while let group = takeGroup(beaconsMax: beaconsMax, waitNanoseconds: waitNanoseconds) {
            metrics.queueDepth.record(depth)
            IngestItem.deliver(handle(group), of: group, metrics: metrics)
        }
    }
}
