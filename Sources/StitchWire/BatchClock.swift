/// Whose clock a batch's times are on, and how the collector puts them on its
/// own (proto/FRAMING.md, "Event times").
///
/// A visitor's device clock is often minutes or hours off, while call
/// tracking compares event times with the telephony's clock. So a `DEVICE`
/// batch that says when it was sent (`sent_ms`) has each time re-based:
/// `received − (sent − time)`, never after `received`. The batch's own
/// latency is the only error left, instead of the device's.
public enum BatchClock: Sendable, Equatable {
    /// Times are stored as sent: a trusted clock, or no `sent_ms` (older clients).
    case asSent
    /// A device clock: add `offsetMs` (received − sent) to each time, and
    /// clamp at `receivedMs`.
    case device(offsetMs: Int64, receivedMs: Int64)
    /// A device batch whose `sent_ms` is no Unix time in milliseconds: none
    /// of its times can be placed, so each beacon is rejected `BAD_TIME`.
    case badSentTime(Int64)

    /// The clock of `batch`, received at `receivedMs` by the collector's clock.
    public init(_ batch: Stitch_V1_BeaconBatch, receivedMs: Int64, timeMsMax: Int64) {
        guard batch.clock == .device, batch.sentMs != 0 else {
            self = .asSent
            return
        }
        guard batch.sentMs > 0, batch.sentMs <= timeMsMax else {
            self = .badSentTime(batch.sentMs)
            return
        }
        self = .device(offsetMs: receivedMs - batch.sentMs, receivedMs: receivedMs)
    }

    /// Puts `beacon`'s times on the collector's clock, keeping the device's
    /// time in `device_time_ms`. Returns why it cannot (a `BAD_TIME`
    /// detail), leaving the beacon unchanged; nil when done.
    public func rebase(_ beacon: inout Stitch_V1_Beacon) -> String? {
        switch self {
        case .asSent:
            return nil
        case .badSentTime(let sentMs):
            return "the batch's sent_ms \(sentMs) is not a Unix time in milliseconds"
        case .device(let offsetMs, let receivedMs):
            let timeMs = Self.rebased(beacon.timeMs, offsetMs: offsetMs, receivedMs: receivedMs)
            guard timeMs > 0 else {
                let sentMs = receivedMs - offsetMs
                return "time_ms \(beacon.timeMs) is \(sentMs - beacon.timeMs) ms before the batch's sent_ms: before 1970 by the server's clock"
            }
            if case .call(var call) = beacon.body, call.startedAtMs > 0 {
                call.startedAtMs = max(1, Self.rebased(call.startedAtMs, offsetMs: offsetMs, receivedMs: receivedMs))
                beacon.call = call
            }
            beacon.deviceTimeMs = beacon.timeMs
            beacon.timeMs = timeMs
            return nil
        }
    }

    /// `received − (sent − time)`, never after `received`.
    static func rebased(_ deviceTimeMs: Int64, offsetMs: Int64, receivedMs: Int64) -> Int64 {
        min(receivedMs, deviceTimeMs + offsetMs)
    }

    /// How far the device's clock was from the collector's, as the label of
    /// `stitch_device_clock_batches_total`; nil for a batch not on a device clock.
    public var offsetLabel: String? {
        switch self {
        case .asSent: return nil
        case .badSentTime: return "invalid"
        case .device(let offsetMs, _):
            let magnitude = offsetMs.magnitude
            if magnitude < 60_000 { return "under_1m" }
            if magnitude < 3_600_000 { return "1m_to_1h" }
            return "over_1h"
        }
    }
}
