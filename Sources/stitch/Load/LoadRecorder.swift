import Foundation
import Histogram
import NIOConcurrencyHelpers

/// Counts and latencies of one load run, shared by the sending tasks and the
/// event-loop callbacks that see acks and responses (hence the lock).
final class LoadRecorder: Sendable {
    struct Totals: Sendable {
        var beaconsSent = 0
        var batchesSent = 0
        var beaconsAcked = 0
        var beaconsRejected = 0
        var batchesRefused = 0
        var failures = 0
        var lastFailure: String?
        var ackMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        /// The acks since the last progress line: where in a run its tail was.
        var intervalAckMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var queriesSent = 0
        var sendersDone = false
        /// World runs: the rejected indexes of every acked batch.
        var worldAcks: [BatchKey: Set<Int>] = [:]
        /// Cluster mode: the furthest log position acked per partition.
        var logPositions: [UInt32: UInt64] = [:]
        var queries = 0
        var queryErrors = 0
        var queryMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var historyMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    private let box = NIOLockedValueBox(Totals())

    func update(_ body: (inout Totals) -> Void) {
        box.withLockedValue { body(&$0) }
    }

    var totals: Totals {
        box.withLockedValue { $0 }
    }
}

/// A batch of a load run: its connection and its place in that connection's frames.
struct BatchKey: Hashable, Sendable {
    var connection: Int
    var offset: Int
}

extension Histogram where Count == UInt64 {
    /// "p50 … p99 … max" in milliseconds, for reports.
    var summaryMs: String {
        guard totalCount > 0 else { return "no samples" }
        func ms(_ micros: UInt64) -> String { String(format: "%.2f", Double(micros) / 1000) }
        return "p50 \(ms(valueAtPercentile(50))) p90 \(ms(valueAtPercentile(90))) p99 \(ms(valueAtPercentile(99))) "
            + "p99.9 \(ms(valueAtPercentile(99.9))) max \(ms(maxRecorded)) ms"
    }
}
