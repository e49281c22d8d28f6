/// The state of one query connection, apart from any socket: whether the
/// client said hello (and what it may read), how many responses wait for a
/// flush, and whether a read is held back because the client does not read.
///
/// Each event returns what the handler must do; the handler keeps no state
/// of its own. Invariants (checked after every event): fewer than
/// `inFlightMax` responses wait unflushed; a second hello is never accepted.
struct QueryConnectionStateMachine {
    enum Phase: Equatable {
        /// Only `hello` is answered.
        case awaitingHello
        /// Hello accepted: requests are answered under this access.
        case authenticated(QueryAccess)
    }

    /// How to answer one request.
    enum Answer: Equatable {
        /// Authenticate it (a hello on a fresh connection).
        case hello
        /// Execute it under this access.
        case execute(QueryAccess)
        /// Answer with this error.
        case refuse(QueryFailure)
    }

    /// What the handler must do with the channel.
    struct Action: Equatable {
        var flush = false
        var read = false
    }

    private(set) var phase = Phase.awaitingHello
    /// Responses written since the last flush.
    private(set) var unflushed = 0
    /// A read the pipeline asked for while the channel was not writable.
    private(set) var readHeld = false
    /// Flush at least every this many responses, so a client pipelining one
    /// long read still gets answers.
    let inFlightMax: Int

    init(inFlightMax: Int) {
        precondition(inFlightMax > 0)
        self.inFlightMax = inFlightMax
    }

    /// A request arrived; `isHello` tells whether it is a hello.
    func requestReceived(isHello: Bool) -> Answer {
        switch (phase, isHello) {
        case (.awaitingHello, true): .hello
        case (.awaitingHello, false): .refuse(QueryFailure(.unauthenticated, "send hello first"))
        case (.authenticated, true): .refuse(QueryFailure(.invalidArgument, "hello was already accepted"))
        case (.authenticated(let access), false): .execute(access)
        }
    }

    /// Wrong hellos on this connection so far.
    private(set) var helloFailures = 0
    /// After this many wrong hellos the connection is closed: guessing tokens
    /// costs a reconnect each few tries, and every failure is logged.
    static let helloFailuresMax = 3

    /// A hello was refused (wrong token or version); true when the
    /// connection must close after answering it.
    mutating func helloRefused() -> Bool {
        helloFailures += 1
        return helloFailures >= Self.helloFailuresMax
    }

    /// The hello was accepted under `access`.
    mutating func helloAccepted(_ access: QueryAccess) {
        precondition(phase == .awaitingHello, "a second hello was accepted")
        phase = .authenticated(access)
    }

    /// One response was written (not yet flushed).
    mutating func responseWritten() -> Action {
        unflushed += 1
        var action = Action()
        if unflushed >= inFlightMax { flush(&action) }
        return checked(action)
    }

    /// The socket read is complete: flush what the requests it held produced.
    mutating func readComplete() -> Action {
        var action = Action()
        flush(&action)
        return checked(action)
    }

    /// The pipeline asks for more requests: pass it on only while the client
    /// reads its answers (`writable`), so answers never queue without bound.
    mutating func readRequested(writable: Bool) -> Action {
        var action = Action()
        if writable {
            action.read = true
        } else {
            readHeld = true
        }
        return checked(action)
    }

    /// The channel's writability changed: a held read goes on once writable.
    mutating func writabilityChanged(writable: Bool) -> Action {
        var action = Action()
        if writable && readHeld {
            readHeld = false
            action.read = true
        }
        return checked(action)
    }

    private mutating func flush(_ action: inout Action) {
        guard unflushed > 0 else { return }
        unflushed = 0
        action.flush = true
    }

    private func checked(_ action: Action) -> Action {
        precondition(unflushed < inFlightMax, "\(unflushed) responses unflushed; at most \(inFlightMax - 1) may wait")
        return action
    }
}
