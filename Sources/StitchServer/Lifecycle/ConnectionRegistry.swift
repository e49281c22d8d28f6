import NIOConcurrencyHelpers
import NIOCore

/// Open connections of one kind, so shutdown can reach each.
final class ConnectionRegistry<Value: Sendable>: Sendable {
    private let entries = NIOLockedValueBox<[ObjectIdentifier: Value]>([:])

    func insert(_ value: Value, for channel: any Channel) {
        entries.withLockedValue { $0[ObjectIdentifier(channel)] = value }
    }

    func remove(_ channel: any Channel) {
        _ = entries.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func all() -> [Value] {
        entries.withLockedValue { Array($0.values) }
    }
}
