import Foundation
import Logging
import NIOCore
import StitchGraph

/// Periodic chores of a running server, on one event loop every few seconds:
/// free LMDB reader slots of dead processes, read the kernel's drop count
/// of the collector's UDP sockets (datagrams lost before the server saw them,
/// which its own counters cannot know), count the readers that rebuilt their
/// write-behind overlay (the graph counts them, lock-free), and record how each number pool is
/// used (held by activity, held by open pages, free).
struct Housekeeping {
    static let interval = TimeAmount.seconds(10)

    let graph: ShardedGraph
    let metrics: ServerMetrics
    let logger: Logger
    let udpPort: Int
    let clockMs: @Sendable () -> Int64

    /// Starts the chores; cancel the returned task to stop them.
    func start(on loop: any EventLoop) -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: Self.interval) { _ in
            run()
        }
    }

    func run() {
        do {
            let cleared = try graph.clearStaleReaders()
            if cleared > 0 {
                metrics.counter(.staleReadersCleared).increment(by: cleared)
                logger.notice("cleared \(cleared) stale LMDB reader slots left by a process that died (a killed `stitch verify`?)")
            }
        } catch {
            logger.warning("reader check failed: \(error)")
        }
        if let drops = Self.kernelDrops(port: udpPort) { metrics.udpKernelDrops.record(drops) }
        metrics.indexOverlayRebuilds(total: graph.indexOverlayRebuilds)
        metrics.leaseNumbers(graph.callTracking.pressure(nowMs: clockMs()))
    }

    /// The `drops` column of `/proc/net/udp` and `/proc/net/udp6`, summed
    /// over the sockets bound to `port`; nil where /proc is not Linux's.
    static func kernelDrops(port: Int) -> Int? {
        let portHex = String(format: ":%04X", port)
        var total: Int?
        for file in ["/proc/net/udp", "/proc/net/udp6"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 13, fields[1].hasSuffix(portHex), let drops = Int(fields[fields.count - 1]) else {
                    continue
                }
                total = (total ?? 0) + drops
            }
        }
        return total
    }
}
