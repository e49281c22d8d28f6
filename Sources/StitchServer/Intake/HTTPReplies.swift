import NIOConcurrencyHelpers

/// The outcomes of one HTTP request's batches, handed over by the writer
/// after their group commit: the request is answered only then, so a
/// provider's retry after a crash finds nothing half-done (and event ids make
/// the retry harmless).
final class HTTPReplies: AckTarget {
    private struct State {
        var outcomes: [BatchOutcome] = []
        var waiter: CheckedContinuation<[BatchOutcome], Never>?
    }

    private let expected: Int
    private let state = NIOLockedValueBox(State())

    /// - Parameter expected: how many batches the request queues; every one
    ///   is delivered once (committed, or refused when the server stops).
    init(expected: Int) {
        self.expected = expected
    }

    func deliver(_ outcomes: [BatchOutcome]) {
        let done: (CheckedContinuation<[BatchOutcome], Never>, [BatchOutcome])? = state.withLockedValue { state in
            state.outcomes.append(contentsOf: outcomes)
            guard state.outcomes.count == expected, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.outcomes)
        }
        if let (waiter, outcomes) = done { waiter.resume(returning: outcomes) }
    }

    /// Every outcome, in the order the batches were queued (the writer
    /// commits the queue in order).
    func all() async -> [BatchOutcome] {
        await withCheckedContinuation { continuation in
            let ready: [BatchOutcome]? = state.withLockedValue { state in
                if state.outcomes.count == expected { return state.outcomes }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
