import DequeModule

/// The state of one TCP collector connection, apart from any socket: which
/// batches wait for room in the queue, how many the writer has not answered,
/// whether a read is held back, and when the connection may close.
///
/// Each event returns the `Action` the handler must carry out, in the style
/// of swift-nio's state machines; the handler keeps no state of its own.
/// Offering a batch to the writer's queue is the one outside call, passed in
/// as `offer` so tests can play a queue that is full or closed.
///
/// Invariants (checked after every event):
/// - `unanswered ≥ 0`: the writer never answers more batches than it took;
/// - batches wait only while a wake-up for room is registered, so none is
///   stranded;
/// - a read is held only while batches wait or the connection stops;
/// - the close is asked for once, and only when stopping with nothing
///   waiting or unanswered.
struct IngestConnectionStateMachine {
    typealias Offer = (IngestItem) -> IngestQueue.Offer

    /// What the handler must do, in this order.
    struct Action {
        /// Answer each with OVERLOADED (the queue is closed: the server stops).
        var refuse: [IngestItem] = []
        /// Ask the queue to call back when it has room.
        var waitForRoom = false
        /// Pass the held read on to the socket.
        var read = false
        /// Close once everything written so far is flushed.
        var close = false
    }

    /// Batches the queue had no room for yet, in arrival order.
    private(set) var waiting = Deque<IngestItem>()
    /// Batches handed to the writer and not yet answered.
    private(set) var unanswered = 0
    /// A read the pipeline asked for while batches waited or the connection stopped.
    private(set) var readHeld = false
    /// The server is shutting down: read nothing more, close when answered.
    private(set) var stopping = false
    /// A wake-up for room is registered with the queue.
    private(set) var roomRequested = false
    /// The close was asked for.
    private(set) var closing = false

    /// A batch arrived: offer it, unless earlier ones wait (order is kept).
    mutating func batchArrived(_ item: IngestItem, offer: Offer) -> Action {
        var action = Action()
        if waiting.isEmpty && !stopping {
            switch offer(item) {
            case .accepted:
                unanswered += 1
                return checked(action)
            case .closed:
                action.refuse.append(item)
                return checked(action)
            case .full:
                break
            }
        }
        waiting.append(item)
        requestRoom(&action)
        return checked(action)
    }

    /// The queue may have room: offer the waiting batches in order, then
    /// resume reading if a read was held.
    mutating func roomAvailable(offer: Offer) -> Action {
        roomRequested = false
        var action = Action()
        while let item = waiting.first {
            switch offer(item) {
            case .accepted:
                waiting.removeFirst()
                unanswered += 1
            case .full:
                requestRoom(&action)
                return checked(action)
            case .closed:
                waiting.removeFirst()
                action.refuse.append(item)
            }
        }
        if readHeld && !stopping {
            readHeld = false
            action.read = true
        }
        closeIfDone(&action)
        return checked(action)
    }

    /// The pipeline asks for more bytes: pass it on unless batches wait
    /// (backpressure) or the connection stops.
    mutating func readRequested() -> Action {
        var action = Action()
        if waiting.isEmpty && !stopping {
            action.read = true
        } else {
            readHeld = true
        }
        return checked(action)
    }

    /// The writer answered `count` of this connection's batches.
    mutating func answered(_ count: Int) -> Action {
        unanswered -= count
        var action = Action()
        closeIfDone(&action)
        return checked(action)
    }

    /// The server stops: read nothing more; close once every batch is answered.
    mutating func shutdownBegan() -> Action {
        stopping = true
        var action = Action()
        closeIfDone(&action)
        return checked(action)
    }

    /// The peer went away: waiting batches have nowhere to be answered.
    /// Batches already queued are still committed (FRAMING.md says so).
    mutating func channelClosed() {
        waiting.removeAll()
        readHeld = false
        closing = true
    }

    private mutating func requestRoom(_ action: inout Action) {
        guard !roomRequested else { return }
        roomRequested = true
        action.waitForRoom = true
    }

    private mutating func closeIfDone(_ action: inout Action) {
        guard stopping, unanswered == 0, waiting.isEmpty, !closing else { return }
        closing = true
        action.close = true
    }

    private func checked(_ action: Action) -> Action {
        precondition(unanswered >= 0, "the writer answered more batches than this connection sent")
        precondition(waiting.isEmpty || roomRequested || closing, "batches wait with no wake-up registered")
        precondition(!readHeld || !waiting.isEmpty || stopping, "a read is held with nothing to wait for")
        precondition(!action.close || (unanswered == 0 && waiting.isEmpty), "closing with batches unanswered")
        return action
    }
}
