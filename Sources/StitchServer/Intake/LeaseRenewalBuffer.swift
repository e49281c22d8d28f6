import NIOCore
import StitchGraph
import Synchronization

/// Renewals granted by `GET /v1/lease?renew=1`, gathered and handed to the
/// writer once a second as one item: a renewal then costs the writer a share
/// of one group commit a second, not a commit of its own (`ops/renewal-bench.sh`).
///
/// Waiting is safe: the allocator holds the number from the moment the
/// renewal is granted, each renewal keeps its own time (the writer extends the
/// stored lease as of then, and matches calls that were waiting), and a page
/// renews every third of the hold, so a renewal lost in a crash is made good
/// by the next one long before its number could lapse.
final class LeaseRenewalBuffer: Sendable {
    static let flushInterval = TimeAmount.seconds(1)

    private struct Key: Hashable {
        let site: UInt32
        let session: String
    }

    private let pending = Mutex<[Key: LeaseRenewal]>([:])
    private let queue: IngestQueue
    private let metrics: ServerMetrics

    init(queue: IngestQueue, metrics: ServerMetrics) {
        self.queue = queue
        self.metrics = metrics
    }

    /// Keeps `renewal` for the next flush; of one session's renewals, the latest.
    func add(_ renewal: LeaseRenewal) {
        pending.withLock { pending in
            let key = Key(site: renewal.site, session: renewal.session)
            if let kept = pending[key], kept.timeMs >= renewal.timeMs { return }
            pending[key] = renewal
        }
    }

    /// Hands what was gathered to the writer as one item. A full queue drops
    /// them (counted): the pages' next renewals carry them.
    func flush() {
        let renewals = pending.withLock { pending in
            defer { pending = [:] }
            return Array(pending.values)
        }
        guard !renewals.isEmpty else { return }
        if queue.offer(.renewals(renewals)) != .accepted {
            metrics.counter(.leaseRenewalsDropped).increment(by: renewals.count)
        }
    }

    /// Flushes every `flushInterval` on `loop`; cancel the task to stop.
    func start(on loop: any EventLoop) -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: Self.flushInterval, delay: Self.flushInterval) { [self] _ in flush() }
    }
}
