#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Histogram
import NIOCore
import StitchWire

/// Sends pre-encoded query frames at a steady rate, one request at a time on
/// its own schedule, and times each answer from when its request was due —
/// the way an independent client measures a server (open loop: a slow answer
/// never delays the next request, so queueing cannot hide; no bursts).
///
/// Two plain threads on one blocking socket: the sender sleeps until each
/// request's due time (`clock_nanosleep`, absolute) and writes it; the reader
/// reads answers and matches them by request id (the frame's sequence). No
/// event loop and no async hop sits between the clock and the socket, so the
/// generator adds as little of its own scheduling delay as it can.
final class OpenLoopQueryDriver: @unchecked Sendable {
    /// Latencies in microseconds, answers and error answers.
    struct Tally: Sendable {
        var lookupMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var historyMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var answered = 0
        var errors = 0
    }

    private let socket: Int32
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
        socket = try Self.connect(host: host, port: port)
        let hello = Stitch_V1_Request.with {
            $0.requestID = UInt64.max - 1
            $0.hello = .with {
                $0.token = token
                $0.clientName = "stitch-load-open-loop"
            }
        }
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        try FrameEncoder().encode(hello, type: .request, sequence: UInt64.max - 1, into: &buffer)
        try writeAll(buffer)
        guard let answer = try readFrame(), answer.header.sequence == UInt64.max - 1 else {
            throw ClientFailure("the query server did not answer the hello")
        }
        let response = try PayloadDecoder().decode(answer, as: Stitch_V1_Response.self, expecting: .response)
        guard case .hello = response.kind else {
            throw ClientFailure("hello refused: \(response.error.message)")
        }
    }

    deinit { close(socket) }

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
        shutdown(socket, Int32(SHUT_RDWR))
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
            do { try writeAll(frames[index]) } catch { break }
            onSent(1)
        }
    }

    private func readAnswers() {
        let decoder = PayloadDecoder()
        while true {
            guard let frame = try? readFrame() else { return }
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

    // MARK: Socket

    private static func connect(host: String, port: Int) throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            close(fd)
            throw ClientFailure("the open-loop query driver needs an IPv4 address, not \(host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ClientFailure("cannot connect to the query port \(host):\(port): \(reason)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    private func writeAll(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(socket, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw ClientFailure("write: \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
    }

    private func readExactly(_ count: Int) throws -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        var remaining = count
        while remaining > 0 {
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: remaining) { bytes in
                Glibc.read(socket, bytes.baseAddress!, remaining)
            }
            if read == 0 { return nil }
            if read < 0 {
                if errno == EINTR { continue }
                return nil
            }
            remaining -= read
        }
        return buffer
    }

    /// The next whole frame, or nil at the end of the stream.
    private func readFrame() throws -> Frame? {
        guard var head = try readExactly(FrameHeader.byteCount) else { return nil }
        guard let header = try FrameHeader.peek(in: head, limits: .standard) else { return nil }
        head.moveReaderIndex(forwardBy: FrameHeader.byteCount)
        guard let payload = try readExactly(Int(header.length)) else { return nil }
        return Frame(header: header, payload: payload)
    }

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
