import StitchBeacon
import Synchronization
import Testing

@testable import StitchServer
import StitchGraph
import StitchWire

/// The bounded queue between event loops and the writer, without sockets.
@Suite("Ingest queue")
struct IngestQueueTests {
    static func item(_ beacons: Int, sequence: UInt64 = 0) -> IngestItem {
        var preparer = EventPreparer(rules: FixedJunkRules())
        let event = preparer.prepare(Stitch_V1_Beacon(), receivedMs: 0)
        return IngestItem(
            events: Array(repeating: event, count: beacons), beaconIndexes: Array(0..<UInt32(beacons)),
            sequence: sequence, ack: .init(), replyTo: nil)
    }

    @Test("full by beacons, not batches; an empty queue takes any batch; a taken group frees room and wakes waiters")
    func boundedByBeacons() {
        let queue = IngestQueue(beaconsMax: 100)
        #expect(queue.offer(Self.item(60)) == .accepted)
        #expect(queue.offer(Self.item(40)) == .accepted)
        #expect(queue.offer(Self.item(1)) == .full)
        let woken = Atomic<Int>(0)
        queue.whenSpace { woken.add(1, ordering: .relaxed) }
        #expect(woken.load(ordering: .relaxed) == 0)
        let group = queue.takeGroup(beaconsMax: 1000, waitNanoseconds: 0)
        #expect(group?.map(\.events.count) == [60, 40])
        #expect(woken.load(ordering: .relaxed) == 1)
        #expect(queue.offer(Self.item(500)) == .accepted, "an empty queue takes a batch larger than its bound")
        #expect(queue.depth == 500)
    }

    @Test("a group stops at groupBeaconsMax but always holds at least one batch, in order")
    func groupsRespectBound() {
        let queue = IngestQueue(beaconsMax: 10_000)
        for sequence in 1...5 { #expect(queue.offer(Self.item(30, sequence: UInt64(sequence))) == .accepted) }
        #expect(queue.takeGroup(beaconsMax: 70, waitNanoseconds: 0)?.map(\.sequence) == [1, 2])
        #expect(queue.takeGroup(beaconsMax: 10, waitNanoseconds: 0)?.map(\.sequence) == [3])
        #expect(queue.takeGroup(beaconsMax: 1000, waitNanoseconds: 0)?.map(\.sequence) == [4, 5])
    }

    @Test("close: offers refused, queued batches still drained, then nil; waiters are called")
    func closeDrains() {
        let queue = IngestQueue(beaconsMax: 10)
        #expect(queue.offer(Self.item(10, sequence: 1)) == .accepted)
        #expect(queue.offer(Self.item(5)) == .full)
        let woken = Atomic<Int>(0)
        queue.whenSpace { woken.add(1, ordering: .relaxed) }
        queue.close()
        #expect(woken.load(ordering: .relaxed) == 1)
        #expect(queue.offer(Self.item(1)) == .closed)
        #expect(queue.takeGroup(beaconsMax: 100, waitNanoseconds: 1_000_000_000)?.map(\.sequence) == [1])
        #expect(queue.takeGroup(beaconsMax: 100, waitNanoseconds: 0) == nil)
    }
}
