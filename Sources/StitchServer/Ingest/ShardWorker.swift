import Foundation
import StitchGraph

/// A thread that runs one job at a time for the writer: applying and
/// committing one shard's part of a group while the writer thread does
/// another shard's, so the shards' graph work and fsyncs overlap.
///
/// Handoff is two semaphores, which also order memory: the job is visible to
/// the worker, and its result to the waiter.
final class ShardWorker: @unchecked Sendable {
    typealias Job = () -> Result<ApplyReport, any Error>

    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Set before `started` is signalled, read after; nil stops the thread.
    private var job: Job?
    /// Set by the worker before `finished` is signalled.
    private var result: Result<ApplyReport, any Error>?

    init(name: String, priority: ThreadScheduling.IngestPriority, nice: Int) {
        ThreadScheduling.startIngestThread(name, priority: priority, nice: nice) { [self] in
            while true {
                started.wait()
                guard let job else { return }
                result = job()
                self.job = nil
                finished.signal()
            }
        }
    }

    /// Starts `job` on the worker; call `wait()` before the next `run`.
    func run(_ job: @escaping Job) {
        self.job = job
        started.signal()
    }

    /// The result of the job given to `run`, once it has finished.
    func wait() -> Result<ApplyReport, any Error> {
        finished.wait()
        defer { result = nil }
        return result!
    }

    /// Ends the thread (no job may be running).
    func stop() {
        job = nil
        started.signal()
    }
}
