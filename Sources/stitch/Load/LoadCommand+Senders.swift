import Foundation
import NIOCore
import StitchClient
import StitchWire

extension LoadCommand {
    func sendTCP(index: Int, frames: [ByteBuffer], start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder) async throws {
        let client = try await IngestClient.connect(host: host, port: port, tls: tls.settings)
        let interval: Duration? = rate > 0 ? .seconds(Double(batch * connections) / Double(rate)) : nil
        var due = start
        var inFlight: [EventLoopFuture<Void>] = []
        let recordAcks = usesWorld
        for (offset, frame) in frames.enumerated() {
            guard ContinuousClock.now < deadline else { break }
            if interval != nil {
                if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            } else {
                due = ContinuousClock.now
            }
            // Acks come in commit order, which on one connection is send order:
            // waiting for the oldest keeps at most `window` batches unanswered.
            if inFlight.count >= window {
                _ = try? await inFlight.removeFirst().get()
            }
            let sentAt = due
            let future = client.sendFrame(frame, sequence: UInt64(offset + 1)).map { reply in
                let micros = UInt64(max(0, (ContinuousClock.now - sentAt).seconds * 1_000_000))
                recorder.update { totals in
                    switch reply {
                    case .ack(let ack):
                        totals.beaconsAcked += Int(ack.accepted)
                        totals.beaconsRejected += Int(ack.rejected)
                        _ = totals.ackMicros.record(micros)
                        _ = totals.intervalAckMicros.record(micros)
                        for position in ack.logPositions {
                            totals.logPositions[position.partition] = max(totals.logPositions[position.partition] ?? 0, position.sequence)
                        }
                        if recordAcks {
                            totals.worldAcks[BatchKey(connection: index, offset: offset)] = Set(ack.rejections.map { Int($0.index) })
                        }
                    case .refused(let error):
                        totals.batchesRefused += 1
                        totals.lastFailure = "\(error.code): \(error.message)"
                    }
                }
            }
            future.whenFailure { error in
                recorder.update {
                    $0.failures += 1
                    $0.lastFailure = "\(error)"
                }
            }
            inFlight.append(future)
            recorder.update {
                $0.beaconsSent += batch
                $0.batchesSent += 1
            }
            if let interval { due += interval }
        }
        for future in inFlight { _ = try? await future.get() }
        await client.close()
    }

    func sendUDP(index: Int, frames: [ByteBuffer], start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder) async throws {
        let sender = try await UDPSender.connect(host: host, port: port)
        let interval = Duration.seconds(Double(batch * connections) / Double(rate))
        var due = start
        var next = 0
        while ContinuousClock.now < deadline && next < frames.count {
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            // Catch up in one burst when the sleep overslept several intervals.
            var sent = 0
            while due <= ContinuousClock.now && sent < 64 && next < frames.count {
                _ = sender.sendDatagram(frames[next])
                next += 1
                sent += 1
                due += interval
            }
            recorder.update {
                $0.beaconsSent += sent * batch
                $0.batchesSent += sent
            }
        }
        await sender.close()
    }

    func runQueries(
        frames: [ByteBuffer], start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, recorder: LoadRecorder
    ) async throws {
        let driver = try OpenLoopQueryDriver(
            host: host, port: queryPort, token: token, frames: frames, rate: queryRate,
            historyEveryTenth: queryKind == .lookup)
        // The same instants on the driver's clock (CLOCK_MONOTONIC).
        let now = ContinuousClock.now
        let nowNanos = OpenLoopQueryDriver.monotonicNanoseconds()
        func onDriverClock(_ instant: ContinuousClock.Instant) -> UInt64 {
            let (seconds, attoseconds) = (instant - now).components
            return UInt64(max(0, Int64(nowNanos) + seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        }
        let startNanos = onDriverClock(start)
        let deadlineNanos = onDriverClock(deadline)
        let results = await withCheckedContinuation { (continuation: CheckedContinuation<OpenLoopQueryDriver.Tally, Never>) in
            Thread {
                continuation.resume(returning: driver.run(startNanos: startNanos, deadlineNanos: deadlineNanos) { sent in
                    recorder.update { $0.queriesSent += sent }
                })
            }.start()
        }
        recorder.update {
            $0.queryMicros = results.lookupMicros
            $0.historyMicros = results.historyMicros
            $0.queries = results.answered
            $0.queryErrors = results.errors
        }
    }
}
