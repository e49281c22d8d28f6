import Foundation
import CScheduling
#if canImport(Glibc)
import Glibc
#endif

/// How Stitch's threads share a busy machine's cores: lookups first.
///
/// Ingest (the collector's event loops, the writer, the shard workers) is
/// throughput-bound and loses little by waiting; a lookup is latency-bound
/// and short. On two cores, a lookup that wakes while the writer and the
/// collector hold both waits for one of them to be descheduled — at nice 5
/// that was a p99 of 3–4 ms during 50k beacons/s. So by default the ingest
/// threads run under `SCHED_IDLE`: they get every cycle no other thread of
/// the machine asks for (unpaced ingest measured no slower), and a waking
/// lookup preempts them at once. docs/performance.md has the measurements.
///
/// `SCHED_IDLE` and a nice value need no privilege: a thread may always lower
/// its own priority. On a host shared with other busy processes, `idle`
/// lets those starve ingest (its queue then fills and the collector pushes
/// back), so `ingest_priority = nice` is the choice there.
public enum ThreadScheduling {
    /// The ingest threads' policy (`ingest_priority`).
    public enum IngestPriority: String, Sendable, CaseIterable {
        /// `SCHED_IDLE`: ingest runs only on cycles nobody else wants.
        case idle
        /// `SCHED_OTHER` with `ingest_nice` added.
        case nice
        /// Left as started: the same priority as lookups.
        case normal
    }

    /// Applies `priority` to the calling ingest thread. Linux keeps policy
    /// and nice per thread, so this touches no other thread; elsewhere it
    /// does nothing.
    static func applyToIngestThread(_ priority: IngestPriority, nice: Int) {
        #if os(Linux)
        switch priority {
        case .idle: _ = stitch_set_thread_scheduling(5 /* SCHED_IDLE */, 0, 0)
        case .nice where nice > 0: _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(nice))
        case .nice, .normal: break
        }
        #endif
    }

    /// Starts a named ingest thread (writer, shard worker or applier,
    /// checkpoints) with `priority` applied, running `body`.
    static func startIngestThread(
        _ name: String, priority: IngestPriority, nice: Int, _ body: @escaping @Sendable () -> Void
    ) {
        let thread = Thread {
            nameCurrentThread(name)
            applyToIngestThread(priority, nice: nice)
            body()
        }
        thread.name = name
        thread.start()
    }

    /// Names the calling thread for the kernel (`top -H`, `perf`, /proc):
    /// Foundation's `Thread.name` does not reach it on Linux, where the
    /// threads otherwise show as the runtime's default. At most 15 bytes count.
    static func nameCurrentThread(_ name: String) {
        #if os(Linux)
        _ = stitch_set_thread_name(name)
        #endif
    }

    /// Asks for a short slice for the calling query thread (Linux 6.12 and
    /// later, EEVDF; older kernels ignore it): a thread with a shorter
    /// slice has an earlier deadline, so when it wakes it preempts whatever
    /// runs, the load generator or another process included. 0 leaves the
    /// kernel's default.
    static func applyToQueryThread(sliceMicroseconds: Int) {
        #if os(Linux)
        guard sliceMicroseconds > 0 else { return }
        _ = stitch_set_thread_scheduling(0 /* SCHED_OTHER */, 0, UInt64(sliceMicroseconds) * 1000)
        #endif
    }
}
