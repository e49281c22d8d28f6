import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StitchClient
import StitchWire

/// Drives pre-encoded query frames at a fixed rate over one `QueryClient`
/// connection and measures each answer's latency from when it was due.
///
/// The frames are encoded before the clock starts and sent in bursts (one
/// hop, one flush), so the generator leaves the CPU to the server it
/// measures; each answer is timed in its future's callback, which runs on
/// the connection's event loop as the answer is read.
final class LookupDriver: Sendable {
    private let client: QueryClient
    private let tally: NIOLockedValueBox<Tally>
    /// A thread of its own: the ingest connections' acks arrive in bursts
    /// after each group commit, and answers read behind them would be timed
    /// late by the generator, not by the server.
    private let group: MultiThreadedEventLoopGroup
    /// Lookup runs time every 10th request (a history page) apart.
    private let historyEveryTenth: Bool

    /// Latencies in microseconds, answers and error answers so far.
    struct Tally: Sendable {
        var lookupMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var historyMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var answered = 0
        var errors = 0
    }

    private init(client: QueryClient, group: MultiThreadedEventLoopGroup, historyEveryTenth: Bool) {
        self.client = client
        self.group = group
        self.historyEveryTenth = historyEveryTenth
        self.tally = NIOLockedValueBox(Tally())
    }

    /// Connects on a thread of its own and says hello with `token`.
    static func connect(host: String, port: Int, token: String, historyEveryTenth: Bool) async throws -> LookupDriver {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let client = try await QueryClient.connect(
                host: host, port: port, token: token, clientName: "stitch-load", group: group)
            return LookupDriver(client: client, group: group, historyEveryTenth: historyEveryTenth)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Sends frames (their request ids are `firstID…`) in one burst;
    /// `dueNanos[i]` is when frame i was due (uptime nanoseconds).
    func send(_ frames: ArraySlice<ByteBuffer>, firstID: Int, dueNanos: [UInt64]) {
        let requests = frames.enumerated().map { (frame: $1, requestID: UInt64(firstID + $0)) }
        for (offset, answer) in client.sendFrames(requests).enumerated() {
            let due = dueNanos[offset]
            let isHistory = historyEveryTenth && Self.isHistory(id: firstID + offset)
            answer.whenComplete { [tally] result in
                let now = NIODeadline.now().uptimeNanoseconds
                let micros = now > due ? (now - due) / 1000 : 0
                tally.withLockedValue { tally in
                    tally.answered += 1
                    if case .success(let response) = result, case .error = response.kind {
                        tally.errors += 1
                    } else if case .failure = result {
                        tally.errors += 1
                    }
                    if isHistory {
                        _ = tally.historyMicros.record(micros)
                    } else {
                        _ = tally.lookupMicros.record(micros)
                    }
                }
            }
        }
    }

    /// Which request ids are history requests in a lookup run (the rest are lookups).
    static func isHistory(id: Int) -> Bool { id % 10 == 0 }

    /// What was measured so far.
    func results() -> Tally { tally.withLockedValue { $0 } }

    func close() async {
        await client.close()
        try? await group.shutdownGracefully()
    }
}
