import NIOConcurrencyHelpers
import NIOCore

/// Counts one port's open connections, in all and per client address, and
/// admits a new one only under both limits (FRAMING.md "What a connection
/// may hold"). Each port has its own limiter, so a flood on the ingest port
/// leaves the query and HTTP ports answering.
final class ConnectionLimiter: Sendable {
    /// Why a connection was refused; the metric's `reason` label.
    enum Refusal: String {
        case limit
        case perAddress = "per_address"
    }

    let port: String
    let connectionsMax: Int
    let perAddressMax: Int
    private let state = NIOLockedValueBox<(total: Int, byAddress: [String: Int])>((0, [:]))

    init(port: String, connectionsMax: Int, perAddressMax: Int) {
        precondition(connectionsMax > 0 && perAddressMax > 0)
        self.port = port
        self.connectionsMax = connectionsMax
        self.perAddressMax = perAddressMax
    }

    /// Admits `channel` (in its initializer, before any handler is built)
    /// and releases it when it closes; a refused one is counted and closed.
    func admit(_ channel: any Channel, metrics: ServerMetrics) -> Bool {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        if let refusal = admit(address) {
            metrics.counter(.connectionsRefused, [("port", port), ("reason", refusal.rawValue)]).increment()
            channel.close(promise: nil)
            return false
        }
        channel.closeFuture.whenComplete { _ in self.release(address) }
        return true
    }

    /// Admits a connection from `address` (its IP, without the port), or
    /// says why not. An admitted connection must be `release`d once.
    func admit(_ address: String) -> Refusal? {
        state.withLockedValue { state in
            if state.total >= connectionsMax { return .limit }
            if state.byAddress[address, default: 0] >= perAddressMax { return .perAddress }
            state.total += 1
            state.byAddress[address, default: 0] += 1
            return nil
        }
    }

    func release(_ address: String) {
        state.withLockedValue { state in
            state.total -= 1
            let left = state.byAddress[address, default: 1] - 1
            state.byAddress[address] = left > 0 ? left : nil
            precondition(state.total >= 0, "released more connections than were admitted")
        }
    }

    /// Open connections now.
    var open: Int { state.withLockedValue { $0.total } }
}
