#if canImport(Glibc)
import Glibc
#endif

/// Lowers the scheduling priority of the threads that do ingest work (the
/// collector's event loops, the writer, the shard workers), so that on a
/// small machine a lookup's thread is scheduled ahead of them when both are
/// runnable: lookups are short and latency-bound, ingest is throughput-bound
/// and loses little by waiting a few microseconds more.
///
/// A nice value, not a real-time priority: it needs no privilege (a thread
/// may always lower its own priority), and it only matters while the cores
/// are busy — ingest still gets every cycle nobody else asks for, so it is
/// not starved (README "Performance" has the measurement).
enum IngestThreadPriority {
    /// Lowers the calling thread's priority by `nice` (0 = leave it). Linux
    /// keeps nice values per thread, so this touches no other thread.
    static func apply(nice: Int) {
        guard nice > 0 else { return }
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(nice))
        #endif
    }
}
