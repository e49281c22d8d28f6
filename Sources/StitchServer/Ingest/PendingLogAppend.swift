import Foundation
import StitchStore

/// One shard's group-log append — encoding the part, writing the record,
/// flushing it — started on the shard's log queue so the writer can apply
/// the part meanwhile; `wait()` is where the writer's commit meets it.
///
/// Handoff is one semaphore, which also orders memory: what the queue set
/// before signalling is visible to the waiter after its wait.
final class PendingLogAppend: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Set on the queue before `finished` is signalled.
    private var failure: (any Error)?
    private var written: Int?
    /// The waiter's own: whether it has waited.
    private var waited = false

    /// Starts encoding, writing and flushing record `sequence` of `log`;
    /// `took` gets the nanoseconds it took on the queue.
    init(
        on queue: DispatchQueue, log: GroupLog, sequence: UInt64, encode: @escaping @Sendable () throws -> [UInt8],
        took: @escaping @Sendable (Int64) -> Void
    ) {
        queue.async { [self] in
            let start = ContinuousClock.now
            do {
                let payload = try encode()
                try log.write(payload, sequence: sequence)
                written = payload.count
                try log.flush()
                took((ContinuousClock.now - start).nanoseconds)
            } catch {
                failure = error
            }
            finished.signal()
        }
    }

    /// Returns once the record is on disk; throws why it is not. Idempotent.
    func wait() throws {
        if !waited {
            finished.wait()
            waited = true
        }
        if let failure { throw failure }
    }

    /// The record's payload bytes if it was written (flushed or not), once
    /// `wait()` has returned or thrown; nil if nothing was written.
    var payloadBytesWritten: Int? {
        precondition(waited, "payloadBytesWritten before wait()")
        return written
    }
}
