import Foundation
import NIOConcurrencyHelpers
@testable import StitchServer
import StitchStore
import StitchTesting
import Testing

/// `PendingLogAppend`: the group log's append runs on a queue while the
/// writer applies; what the writer learns at `wait()` decides whether the
/// part commits and whether a record must be taken back.
@Suite struct PendingLogAppendTests {
    struct EncodeFailed: Error {}

    @Test func aRecordOnDiskIsReportedWithItsSizeAndReadsBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try GroupLog(directory: dir.appending("log"))
        let queue = DispatchQueue(label: "test-log")
        let took = NIOLockedValueBox(0)
        for sequence in UInt64(1)...3 {
            let append = PendingLogAppend(
                on: queue, log: log, sequence: sequence, encode: { [UInt8](repeating: UInt8(sequence), count: 40) },
                took: { _ in took.withLockedValue { $0 += 1 } })
            try append.wait()
            try append.wait()  // idempotent
            #expect(append.payloadBytesWritten == 40)
        }
        #expect(took.withLockedValue { $0 } == 3)
        var read: [UInt64] = []
        try GroupLog(directory: dir.appending("log")).forEachRecord(after: 0) { read.append($0.sequence) }
        #expect(read == [1, 2, 3])
    }

    @Test func aFailedEncodeOrWriteLeavesNothingToTakeBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = try GroupLog(directory: dir.appending("log"))
        let queue = DispatchQueue(label: "test-log")
        let failedEncode = PendingLogAppend(
            on: queue, log: log, sequence: 1, encode: { throw EncodeFailed() }, took: { _ in })
        #expect(throws: EncodeFailed.self) { try failedEncode.wait() }
        #expect(failedEncode.payloadBytesWritten == nil)
        try PendingLogAppend(on: queue, log: log, sequence: 1, encode: { [1, 2, 3] }, took: { _ in }).wait()
        // A sequence that does not grow is refused by the log: nothing written.
        let refused = PendingLogAppend(on: queue, log: log, sequence: 1, encode: { [4] }, took: { _ in })
        #expect(throws: StoreError.self) { try refused.wait() }
        #expect(refused.payloadBytesWritten == nil)
        #expect(log.lastSequence == 1)
    }
}
