import StitchTesting
import StitchWire
import Testing

@testable import StitchServer

/// The TCP collector connection's state machine, without sockets: a scripted
/// queue answers each offer, and the tests check the actions and invariants.
@Suite("Ingest connection state machine")
struct IngestConnectionStateMachineTests {
    /// A queue that answers offers from a script and records what it took.
    final class ScriptedQueue {
        var answers: [IngestQueue.Offer]
        var taken: [UInt64] = []

        init(_ answers: [IngestQueue.Offer]) { self.answers = answers }

        func offer(_ item: IngestItem) -> IngestQueue.Offer {
            let answer = answers.isEmpty ? .accepted : answers.removeFirst()
            if answer == .accepted { taken.append(item.sequence) }
            return answer
        }
    }

    static func item(_ sequence: UInt64) -> IngestItem {
        IngestQueueTests.item(1, sequence: sequence)
    }

    /// `count` acks, as the writer would deliver them.
    static func acks(_ count: Int, from first: UInt64 = 1) -> [BatchOutcome] {
        (0..<UInt64(count)).map { .committed(sequence: first + $0, ack: .init()) }
    }

    static func error(_ code: Stitch_V1_FrameErrorCode = .checksumMismatch) -> Stitch_V1_FrameError {
        .with { $0.code = code }
    }

    @Test("a batch that finds the queue full waits, holds reads, and goes in order once there is room")
    func fullQueueHoldsReadsAndKeepsOrder() {
        var state = IngestConnectionStateMachine()
        let queue = ScriptedQueue([.full])
        #expect(state.readRequested().read)
        let first = state.batchArrived(Self.item(1), offer: queue.offer)
        #expect(first.waitForRoom, "a waiting batch registers for room once")
        let second = state.batchArrived(Self.item(2), offer: queue.offer)
        #expect(!second.waitForRoom, "the wake-up is already registered")
        #expect(queue.taken.isEmpty, "a later batch never overtakes a waiting one")
        #expect(!state.readRequested().read, "no bytes are asked for while batches wait")
        #expect(state.readHeld)

        queue.answers = [.accepted, .full]
        let partly = state.roomAvailable(offer: queue.offer)
        #expect(queue.taken == [1])
        #expect(partly.waitForRoom && !partly.read, "still full for batch 2: wait again, keep the read held")

        let done = state.roomAvailable(offer: queue.offer)
        #expect(queue.taken == [1, 2])
        #expect(done.read, "the held read is passed on")
        #expect(state.unanswered == 2 && state.waiting.isEmpty && !state.readHeld)
    }

    @Test("shutdown: reads stop, answered batches let the connection close exactly once")
    func shutdownClosesWhenEverythingIsAnswered() {
        var state = IngestConnectionStateMachine()
        let queue = ScriptedQueue([])
        _ = state.batchArrived(Self.item(1), offer: queue.offer)
        _ = state.batchArrived(Self.item(2), offer: queue.offer)
        #expect(!state.shutdownBegan().close, "two batches are still unanswered")
        #expect(!state.readRequested().read, "a stopping connection reads nothing")
        #expect(!state.answered(Self.acks(1)).close)
        #expect(state.answered(Self.acks(1, from: 2)).close, "the last answer closes")
        #expect(!state.shutdownBegan().close, "the close is asked for once")
    }

    @Test("a closed queue refuses waiting and new batches; the connection then closes")
    func closedQueueRefuses() {
        var state = IngestConnectionStateMachine()
        let queue = ScriptedQueue([.full])
        _ = state.batchArrived(Self.item(1), offer: queue.offer)
        _ = state.shutdownBegan()
        let arrivedWhileStopping = state.batchArrived(Self.item(2), offer: queue.offer)
        #expect(arrivedWhileStopping.write.isEmpty, "a stopping connection queues nothing new; it waits its turn")
        queue.answers = [.closed, .closed]
        let action = state.roomAvailable(offer: queue.offer)
        #expect(Self.errorSequences(action) == [1, 2])
        #expect(action.close && !action.read)

        var fresh = IngestConnectionStateMachine()
        let refused = fresh.batchArrived(Self.item(3), offer: ScriptedQueue([.closed]).offer)
        #expect(Self.errorSequences(refused) == [3] && fresh.unanswered == 0)
    }

    @Test("a peer that goes away drops its waiting batches")
    func peerGoneDropsWaiting() {
        var state = IngestConnectionStateMachine()
        _ = state.batchArrived(Self.item(1), offer: ScriptedQueue([.full]).offer)
        state.channelClosed()
        #expect(state.waiting.isEmpty)
        let late = state.roomAvailable(offer: ScriptedQueue([]).offer)
        #expect(!late.read && !late.close && state.unanswered == 0)
    }

    @Test("the invariants hold over seeded random event sequences")
    func randomEventsKeepTheInvariants() {
        var generator = SeededGenerator.forTest("ingest connection state machine")
        let seed = generator.state
        var state = IngestConnectionStateMachine()
        var sequence: UInt64 = 0
        var closes = 0
        for _ in 0..<2_000 {
            let answers: [IngestQueue.Offer] = (0..<4).map { _ in
                [.accepted, .accepted, .full, .closed][Int(generator.next() % 4)]
            }
            let queue = ScriptedQueue(answers)
            let action: IngestConnectionStateMachine.Action
            switch generator.next() % 7 {
            case 0, 1:
                sequence += 1
                action = state.batchArrived(Self.item(sequence), offer: queue.offer)
            case 2: action = state.roomAvailable(offer: queue.offer)
            case 3: action = state.readRequested()
            case 4:
                action = state.answered(
                    Self.acks(state.unanswered == 0 ? 0 : Int(generator.next() % UInt64(state.unanswered)) + 1))
            case 5 where generator.next() % 3 == 0:
                action = state.frameRefused(Self.error(), sequence: 0)
            default: action = generator.next() % 10 == 0 ? state.shutdownBegan() : state.readRequested()
            }
            if action.close { closes += 1 }
            // What the preconditions inside guard, restated so a failure names the seed.
            #expect(state.unanswered >= 0, "seed \(seed)")
            #expect(!action.read || (state.waiting.isEmpty && !state.stopping), "seed \(seed)")
        }
        #expect(closes <= 1, "seed \(seed): the close is asked for at most once")
    }

    /// The sequences of the replies an action writes, ERROR frames only.
    static func errorSequences(_ action: IngestConnectionStateMachine.Action) -> [UInt64] {
        action.write.compactMap { if case .error(_, let sequence) = $0 { sequence } else { nil } }
    }

    /// Every reply an action writes, as (kind, sequence).
    static func written(_ action: IngestConnectionStateMachine.Action) -> [String] {
        action.write.map {
            switch $0 {
            case .outcome(.committed(let sequence, _)): "ACK\(sequence)"
            case .outcome(.refused(let sequence, _)): "REFUSED\(sequence)"
            case .error(_, let sequence): "ERR\(sequence)"
            }
        }
    }

    @Test("replies go in frame order: an ERROR waits behind the ACKs of earlier batches")
    func errorsWaitTheirTurn() {
        var state = IngestConnectionStateMachine()
        let queue = ScriptedQueue([])
        var written: [String] = []
        _ = state.batchArrived(Self.item(1), offer: queue.offer)
        _ = state.batchArrived(Self.item(2), offer: queue.offer)
        written += Self.written(state.frameRefused(Self.error(), sequence: 3))
        _ = state.batchArrived(Self.item(4), offer: queue.offer)
        written += Self.written(state.frameRefused(Self.error(), sequence: 5))
        #expect(written.isEmpty, "nothing may overtake the unanswered batch 1")
        written += Self.written(state.answered(Self.acks(2)))
        #expect(written == ["ACK1", "ACK2", "ERR3"])
        written += Self.written(state.answered(Self.acks(1, from: 4)))
        #expect(written == ["ACK1", "ACK2", "ERR3", "ACK4", "ERR5"])
        #expect(state.repliesOwed == 0)
        #expect(Self.written(state.frameRefused(Self.error(), sequence: 6)) == ["ERR6"], "nothing owed: at once")
    }

    @Test("a client that does not read: reads stop while the socket is unwritable or too many replies are owed")
    func unreadRepliesHoldReads() {
        var state = IngestConnectionStateMachine(repliesOwedMax: 3)
        let queue = ScriptedQueue([])
        #expect(!state.writabilityChanged(false).read)
        #expect(!state.readRequested().read, "unwritable: the read is held")
        #expect(state.writabilityChanged(true).read, "writable again: the held read goes on")

        _ = state.batchArrived(Self.item(1), offer: queue.offer)
        _ = state.frameRefused(Self.error(), sequence: 2)
        _ = state.frameRefused(Self.error(), sequence: 3)
        #expect(state.repliesOwed == 3)
        #expect(!state.readRequested().read, "three replies owed: no more frames are read")
        let answered = state.answered(Self.acks(1))
        #expect(Self.written(answered) == ["ACK1", "ERR2", "ERR3"])
        #expect(answered.read, "the owed replies are written: reading resumes")
    }
}
