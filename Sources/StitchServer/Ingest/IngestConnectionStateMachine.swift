import DequeModule
import StitchWire

/// The state of one TCP collector connection, apart from any socket: which
/// batches wait for room in the queue, which replies are owed and in what
/// order, whether a read is held back, and when the connection may close.
///
/// Each event returns the `Action` the handler must carry out, in the style
/// of swift-nio's state machines; the handler keeps no state of its own.
/// Offering a batch to the writer's queue is the one outside call, passed in
/// as `offer` so tests can play a queue that is full or closed.
///
/// Replies go out in frame order (FRAMING.md "Acknowledgements"): an ERROR for
/// frame 3 waits behind the ACKs of batches 1 and 2 that the writer has not
/// answered yet, so a client reads its answers in the order it sent.
///
/// Reads are held (backpressure) while batches wait for the queue, while the
/// connection stops, while the socket cannot take our writes (a client that
/// sends and never reads), and while `repliesOwedMax` replies are owed.
///
/// Invariants (checked after every event):
/// - the batches owed a reply are exactly those waiting plus those the writer
///   took and has not answered; the writer never answers more than it took;
/// - batches wait only while a wake-up for room is registered, so none is
///   stranded;
/// - a read is held only while something above holds it;
/// - the close is asked for once, and only when stopping with no reply owed.
struct IngestConnectionStateMachine {
    typealias Offer = (IngestItem) -> IngestQueue.Offer

    /// One frame to write back.
    enum Reply {
        /// The writer's answer to a batch: ACK or the store's refusal.
        case outcome(BatchOutcome)
        /// An ERROR frame for a frame refused before the writer saw it.
        case error(Stitch_V1_FrameError, sequence: UInt64)
    }

    /// What the handler must do, in this order.
    struct Action {
        /// Frames to write, in this order (then flush).
        var write: [Reply] = []
        /// Ask the queue to call back when it has room.
        var waitForRoom = false
        /// Pass the held read on to the socket.
        var read = false
        /// Close once everything written so far is flushed.
        var close = false
    }

    /// A reply owed, in frame order.
    private enum Owed {
        case batch
        case error(Stitch_V1_FrameError, sequence: UInt64)
    }

    /// Most replies owed before reads stop (errors queued behind unanswered
    /// batches count, so a flood of bad frames cannot grow memory).
    let repliesOwedMax: Int

    /// Batches the queue had no room for yet, in arrival order.
    private(set) var waiting = Deque<IngestItem>()
    /// Batches handed to the writer and not yet answered.
    private(set) var unanswered = 0
    /// Replies owed, in frame order.
    private var owed = Deque<Owed>()
    /// How many of `owed` are batches.
    private var owedBatches = 0
    /// A read the pipeline asked for while something held it.
    private(set) var readHeld = false
    /// The socket takes our writes (NIO's writability, from its watermarks).
    private(set) var writable = true
    /// The server is shutting down: read nothing more, close when answered.
    private(set) var stopping = false
    /// A wake-up for room is registered with the queue.
    private(set) var roomRequested = false
    /// The close was asked for.
    private(set) var closing = false

    init(repliesOwedMax: Int = 1024) {
        precondition(repliesOwedMax > 0)
        self.repliesOwedMax = repliesOwedMax
    }

    /// Replies owed and not yet written.
    var repliesOwed: Int { owed.count }

    /// A batch arrived: offer it, unless earlier ones wait (order is kept).
    mutating func batchArrived(_ item: IngestItem, offer: Offer) -> Action {
        var action = Action()
        owed.append(.batch)
        owedBatches += 1
        if waiting.isEmpty && !stopping {
            switch offer(item) {
            case .accepted:
                unanswered += 1
                return checked(action)
            case .closed:
                refuse(item, &action)
                return checked(action)
            case .full:
                break
            }
        }
        waiting.append(item)
        requestRoom(&action)
        return checked(action)
    }

    /// A frame was refused before reaching the writer: its ERROR is written
    /// now, or after the replies owed to earlier frames.
    mutating func frameRefused(_ error: Stitch_V1_FrameError, sequence: UInt64) -> Action {
        var action = Action()
        owed.append(.error(error, sequence: sequence))
        writeReady(&action)
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
                refuse(item, &action)
            }
        }
        releaseRead(&action)
        closeIfDone(&action)
        return checked(action)
    }

    /// The pipeline asks for more bytes: pass it on unless something holds it.
    mutating func readRequested() -> Action {
        var action = Action()
        if holdsReads {
            readHeld = true
        } else {
            action.read = true
        }
        return checked(action)
    }

    /// The writer answered this connection's next `outcomes.count` batches.
    mutating func answered(_ outcomes: [BatchOutcome]) -> Action {
        var action = Action()
        for outcome in outcomes {
            guard case .batch = owed.first else {
                preconditionFailure("the writer answered a batch this connection does not owe")
            }
            owed.removeFirst()
            owedBatches -= 1
            unanswered -= 1
            action.write.append(.outcome(outcome))
            writeReady(&action)
        }
        releaseRead(&action)
        closeIfDone(&action)
        return checked(action)
    }

    /// The socket's writability changed (its unsent bytes crossed a watermark).
    mutating func writabilityChanged(_ isWritable: Bool) -> Action {
        writable = isWritable
        var action = Action()
        releaseRead(&action)
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
        owedBatches -= waiting.count
        waiting.removeAll()
        owed.removeAll { if case .error = $0 { true } else { false } }
        readHeld = false
        closing = true
    }

    private var holdsReads: Bool {
        !waiting.isEmpty || stopping || !writable || owed.count >= repliesOwedMax
    }

    private mutating func releaseRead(_ action: inout Action) {
        if readHeld && !holdsReads {
            readHeld = false
            action.read = true
        }
    }

    /// Errors at the front of the owed replies are written now.
    private mutating func writeReady(_ action: inout Action) {
        while case .error(let error, let sequence) = owed.first {
            owed.removeFirst()
            action.write.append(.error(error, sequence: sequence))
        }
    }

    /// A batch the server will not store, because it is stopping: answered
    /// SHUTTING_DOWN in its turn.
    private mutating func refuse(_ item: IngestItem, _ action: inout Action) {
        let message = Stitch_V1_FrameError.shuttingDown
        // Its `.batch` place becomes an error in the same place: the batches
        // still waiting are the last ones owed, so it is the one before them.
        owed[owedIndex(batchesAfter: waiting.count)] = .error(message, sequence: item.sequence)
        owedBatches -= 1
        writeReady(&action)
    }

    /// The index in `owed` of the batch with `batchesAfter` batches after it.
    private func owedIndex(batchesAfter: Int) -> Int {
        var remaining = batchesAfter
        for index in owed.indices.reversed() {
            guard case .batch = owed[index] else { continue }
            if remaining == 0 { return index }
            remaining -= 1
        }
        preconditionFailure("no batch is owed a reply at that place")
    }

    private mutating func requestRoom(_ action: inout Action) {
        guard !roomRequested else { return }
        roomRequested = true
        action.waitForRoom = true
    }

    private mutating func closeIfDone(_ action: inout Action) {
        guard stopping, owed.isEmpty, !closing else { return }
        closing = true
        action.close = true
    }

    private func checked(_ action: Action) -> Action {
        precondition(unanswered >= 0, "the writer answered more batches than this connection sent")
        precondition(owedBatches == unanswered + waiting.count, "replies owed do not match the batches in flight")
        precondition(waiting.isEmpty || roomRequested || closing, "batches wait with no wake-up registered")
        precondition(!readHeld || holdsReads, "a read is held with nothing to wait for")
        precondition(!action.close || owed.isEmpty, "closing with replies owed")
        return action
    }
}
