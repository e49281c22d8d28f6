import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Event ids and times for webhook events, chosen so that a provider's retry
/// of the same request is the same beacon (FRAMING.md, "Exactly once"):
///
/// - the event id is a hash of the provider, the site, the raw body and the
///   beacon's position in it, so a byte-identical retry has the same id;
/// - the time comes from the payload where it has one; where it has none
///   (Jivo's `chat_accepted`), from the first time this process saw that id,
///   remembered for `memoryMs` and at most `entriesMax` ids. So retries within
///   one server's life are recognised; a retry of such an event across a
///   restart is stored twice (a chat event: a repeated history entry, links
///   unchanged).
public final class HookClock: Sendable {
    private struct Memory {
        var firstSeen: [UInt64: Int64] = [:]
        var order: [(id: UInt64, atMs: Int64)] = []
        var head = 0
    }

    private let nowMs: @Sendable () -> Int64
    private let memoryMs: Int64
    private let entriesMax: Int
    private let memory = NIOLockedValueBox(Memory())

    public init(memoryMs: Int64 = 24 * 3_600_000, entriesMax: Int = 100_000, nowMs: @escaping @Sendable () -> Int64) {
        self.nowMs = nowMs
        self.memoryMs = memoryMs
        self.entriesMax = entriesMax
    }

    /// The event id of the beacon at `index` made from `body` (never 0).
    public static func eventID(provider: String, site: UInt32, body: [UInt8], index: Int) -> UInt64 {
        var hasher = SHA256()
        hasher.update(data: Array("\(provider)|\(site)|\(index)|".utf8))
        hasher.update(data: body)
        let id = hasher.finalize().withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        return id == 0 ? 1 : id
    }

    /// The server's time now.
    public func now() -> Int64 { nowMs() }

    /// When the event `id` was first seen (now, the first time).
    public func firstSeenMs(_ id: UInt64) -> Int64 {
        let now = nowMs()
        return memory.withLockedValue { memory in
            while memory.head < memory.order.count,
                memory.order.count - memory.head > entriesMax || memory.order[memory.head].atMs < now - memoryMs
            {
                memory.firstSeen[memory.order[memory.head].id] = nil
                memory.head += 1
            }
            if memory.head > 4096 && memory.head * 2 > memory.order.count {
                memory.order.removeFirst(memory.head)
                memory.head = 0
            }
            if let seen = memory.firstSeen[id] { return seen }
            memory.firstSeen[id] = now
            memory.order.append((id, now))
            return now
        }
    }
}
