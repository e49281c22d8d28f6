import Foundation
import Histogram
import StitchClient
import StitchServer
import StitchWire

extension LoadCommand {
    func reportProgress(start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder) async {
        var last = recorder.totals
        while ContinuousClock.now < deadline && !recorder.totals.sendersDone {
            try? await Task.sleep(for: .seconds(1))
            var acks = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
            var now = last
            recorder.update { totals in
                swap(&acks, &totals.intervalAckMicros)
                now = totals
            }
            let second = Int((ContinuousClock.now - start).seconds.rounded())
            var line = "[\(second)s] sent \(now.beaconsSent - last.beaconsSent)/s"
            if transport == .tcp {
                line += " acked \(now.beaconsAcked - last.beaconsAcked)/s, errors \(now.failures + now.batchesRefused)"
                if acks.totalCount > 0 {
                    line += String(
                        format: ", ack p99 %.1f max %.1f ms", Double(acks.valueAtPercentile(99)) / 1000,
                        Double(acks.maxRecorded) / 1000)
                }
            }
            if queryRate > 0 { line += ", \(queryKind)s sent \(now.queriesSent - last.queriesSent)/s" }
            print(line)
            last = now
        }
    }

    /// Waits until the server has committed (or refused or dropped) every
    /// beacon it received: then `accepted` is final for this run.
    func settledStats(_ client: QueryClient, last: Stitch_V1_StatsResponse?) async -> Stitch_V1_StatsResponse? {
        var latest = last
        for _ in 0..<150 {
            if let stats = latest {
                if stats.total(.beaconsAccepted) + stats.total(.beaconsRejected) + stats.total(.udpDroppedBeacons)
                    == stats.total(.beaconsReceived)
                {
                    return stats
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
            latest = (try? await client.stats()) ?? latest
        }
        return latest
    }

    func accepted(_ stats: Stitch_V1_StatsResponse) -> UInt64 {
        stats.total(.beaconsAccepted)
    }

    func report(_ totals: LoadRecorder.Totals, elapsed: Double, before: Stitch_V1_StatsResponse?, after: Stitch_V1_StatsResponse?) {
        print("")
        print("sent      \(totals.beaconsSent) beacons in \(totals.batchesSent) batches over \(String(format: "%.1f", elapsed)) s = \(Int(Double(totals.beaconsSent) / elapsed)) beacons/s")
        if transport == .tcp {
            print("acked     \(totals.beaconsAcked) beacons = \(Int(Double(totals.beaconsAcked) / elapsed)) beacons/s; rejected \(totals.beaconsRejected), refused batches \(totals.batchesRefused), failures \(totals.failures)")
            print("ack latency  \(totals.ackMicros.summaryMs)")
        }
        if let before, let after {
            let acceptedDelta = accepted(after) &- accepted(before)
            print("server    accepted \(acceptedDelta) beacons during the run; persons \(after.persons), identifiers \(after.identifiers), events \(after.events), merges \(after.merges)")
            if transport == .udp {
                let lost = max(0, totals.beaconsSent - Int(acceptedDelta))
                let dropped = after.total(.udpDroppedBeacons) &- before.total(.udpDroppedBeacons)
                print("udp loss  \(lost) of \(totals.beaconsSent) = \(String(format: "%.4f", 100 * Double(lost) / Double(max(1, totals.beaconsSent))))% (server queue drops \(dropped); the rest never reached the socket)")
            }
        } else if transport == .udp {
            print("udp loss  unknown: could not read the server's stats on port \(queryPort)")
        }
        if queryRate > 0 {
            print("queries   \(totals.queries) answered, \(totals.queryErrors) with an error (a history of a visitor not seen yet is NOT_FOUND)")
            if queryKind == .lease {
                print("leases    latency \(totals.queryMicros.summaryMs)")
            } else {
                print("lookups   latency \(totals.queryMicros.summaryMs)")
                print("history   (20 newest events, every 10th query) latency \(totals.historyMicros.summaryMs)")
            }
        }
        if let failure = totals.lastFailure { print("last failure: \(failure)") }
    }
}

extension Duration {
    /// This duration in seconds, as a Double.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
