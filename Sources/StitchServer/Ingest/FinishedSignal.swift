import NIOConcurrencyHelpers

/// Lets async callers wait until a thread has finished its work: the
/// writer's or the publisher's, after the queue closed and drained.
final class FinishedSignal: Sendable {
    /// nil once finished.
    private let waiters = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    /// Returns once `finish()` was called (at once if it was already).
    func wait() async {
        await withCheckedContinuation { continuation in
            let done: Bool = waiters.withLockedValue { waiters in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Wakes every waiter, now and later.
    func finish() {
        let waiting = waiters.withLockedValue { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiting { waiter.resume() }
    }
}
