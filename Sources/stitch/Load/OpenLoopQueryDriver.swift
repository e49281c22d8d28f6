#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Histogram
import NIOCore
import StitchClient
import StitchWire

/// Sends pre-encoded query frames at a steady rate, one request at a time on
/// its own schedule, and times each answer from when its request was due —
/// the way an independent client measures a server (open loop: a slow answer
/// never delays the next request, so queueing cannot hide; no bursts).
///
/// Two plain threads on one `BlockingQueryConnection`: the sender sleeps
/// until each request's due time (`clock_nanosleep`, absolute) and writes it;
/// the reader reads answers and matches them by request id (the frame's
/// sequence). No event loop and no async hop sits between the clock and the
/// socket, so the generator adds as little of its own scheduling delay as it
/// can.
final class OpenLoopQueryDriver: @unchecked Sendable {
    /// Latencies in microseconds, answers and error answers.
    struct Tally: Sendable {
        var lookupMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var historyMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var answered = 0
        var errors = 0
    }

    private let connection: BlockingQueryConnection
    private let frames: [ByteBuffer]
    private let intervalNanos: UInt64
    private let historyEveryTenth: Bool
    /// When request 1 was due (monotonic nanoseconds); request i + 1 is due
    /// `i * intervalNanos` later. Set before the threads start.
    private var startNanos: UInt64 = 0
    private var tally = Tally()
    private let readerDone = DispatchSemaphore(value: 0)
    private let senderDone = DispatchSemaphore(value: 0)
    /// Requests written so far; guarded by `sentLock`.
    private var sent = 0
    /// Answers read so far (the reader's count, for the drain); guarded by `sentLock`.
    private var answeredCount = 0
    private let sentLock = NSLock()

    /// Connects and says hello with `token` (the hello is answered before the clock starts).
    init(host: String, port: Int, token: String, frames: [ByteBuffer], rate: Int, historyEveryTenth: Bool) throws {
        self.frames = frames
        self.intervalNanos = UInt64(1e9 / Double(rate))
        self.historyEveryTenth = historyEveryTenth
        connection = try BlockingQueryConnection(host: host, port: port, token: token, clientName: "stitch-load-open-loop")
    }

    /// Runs the schedule from `startNanos` (monotonic) until `deadlineNanos`
    /// or the frames run out, waits up to `drainSeconds` for late answers,
    /// and returns what was measured. Blocks the calling thread.
    func run(startNanos: UInt64, deadlineNanos: UInt64, drainSeconds: Double = 2, onSent: @escaping @Sendable (Int) -> Void) -> Tally {
        self.startNanos = startNanos
        let reader = Thread { [self] in readAnswers(); readerDone.signal() }
        reader.start()
        let sender = Thread { [self] in sendAll(startNanos: startNanos, deadlineNanos: deadlineNanos, onSent: onSent); senderDone.signal() }
        sender.start()
        senderDone.wait()
        // Late answers get `drainSeconds`; then the socket is shut, which
        // ends the reader's blocking read whether or not all came back.
        let drainUntil = Self.monotonicNanoseconds() + UInt64(drainSeconds * 1e9)
        while Self.monotonicNanoseconds() < drainUntil, sentLock.withLock({ answeredCount < sent }) {
            usleep(1000)
        }
        connection.shutdown()
        readerDone.wait()
        return tally
    }

    private func sendAll(startNanos: UInt64, deadlineNanos: UInt64, onSent: (Int) -> Void) {
        for index in frames.indices {
            let due = startNanos + UInt64(index) * intervalNanos
            if due >= deadlineNanos { break }
            var until = timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nil) == EINTR {}
            sentLock.withLock { sent = index + 1 }
            do { try connection.write(frames[index]) } catch { break }
            onSent(1)
        }
    }

    private func readAnswers() {
        let decoder = PayloadDecoder()
        while true {
            guard let frame = try? connection.readFrame() else { return }
            let now = Self.monotonicNanoseconds()
            let index = Int(frame.header.sequence) - 1
            guard index >= 0, index < frames.count else { continue }
            let due = startNanos + UInt64(index) * intervalNanos
            let micros = now > due ? (now - due) / 1000 : 0
            tally.answered += 1
            sentLock.withLock { answeredCount += 1 }
            if let response = try? decoder.decode(frame, as: Stitch_V1_Response.self, expecting: .response) {
                if case .error = response.kind { tally.errors += 1 }
            } else {
                tally.errors += 1
            }
            if historyEveryTenth && Self.isHistory(id: index + 1) {
                _ = tally.historyMicros.record(micros)
            } else {
                _ = tally.lookupMicros.record(micros)
            }
        }
    }

    /// Which request ids are history requests in a lookup run (the rest are lookups).
    static func isHistory(id: Int) -> Bool { id % 10 == 0 }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// A failure of the open-loop driver, said plainly.
struct ClientFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
