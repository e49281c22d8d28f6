import Foundation
import StitchGraph
import StitchIdentity
import StitchStore

/// What exactly-once costs on disk: fills a store with events that each carry
/// a random 63-bit event id (as the tracker, the load harness and the Python
/// sender make them) and prints, at each checkpoint, how many ids the `dedup`
/// table remembers, the bytes its pages take, the bytes per id, the
/// apply rate of the last stretch (nosync, batches of 5,000: CPU and page
/// writes, not fsync), and how long opening the store takes (the in-memory
/// index of remembered ids is rebuilt from the table then).
///
///   DedupCost [--ids 10000000] [--checkpoints 1000000,5000000,10000000] [--dir PATH]
///
/// Run with ops/bench-dedup.sh. The store (~1.5 GB at 10M) is removed after.
@main
struct DedupCost {
    static func main() throws {
        var ids = 10_000_000
        var checkpoints = [1_000_000, 5_000_000, 10_000_000]
        var directory = NSTemporaryDirectory() + "stitch-dedup-cost"
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--ids": ids = Int(iterator.next()!)!
            case "--checkpoints": checkpoints = iterator.next()!.split(separator: ",").map { Int($0)! }
            case "--dir": directory = iterator.next()!
            default: fatalError("unknown argument \(argument); see the header of DedupCost.swift")
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let options = StoreOptions(mapBytes: 1 << 33, durability: .nosync)
        var graph = try IdentityGraph(path: directory, storeOptions: options)
        defer { graph.close() }

        print("| ids remembered | dedup entries | dedup table MB | bytes per id | B-tree depth | apply events/s (last stretch) | store MB | open s |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        var state: UInt64 = 0x5EED
        func random() -> UInt64 {  // SplitMix64, inline: the benchmark needs no other module
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let cookies = (0..<100_000).map { NormalizedIdentifier(uncheckedKind: .cookie, value: "ck\(String($0, radix: 36))x7Hq2L") }
        let body = [UInt8](repeating: 0x2A, count: 40)
        var sent = 0
        var time: Int64 = 1_767_225_600_000
        for checkpoint in checkpoints.sorted() where checkpoint <= ids {
            let start = ContinuousClock.now
            let stretch = checkpoint - sent
            while sent < checkpoint {
                let count = min(5_000, checkpoint - sent)
                let events = (0..<count).map { _ in
                    let eventID = random() >> 1 | 1
                    return PreparedEvent(
                        site: 1, eventID: eventID, timeMs: time - Int64(eventID % 5_000_000_000), receivedMs: time, type: .hit,
                        identifiers: [cookies[Int(eventID % UInt64(cookies.count))]], body: body)
                }
                try graph.apply(events, nowMs: time)
                sent += count
                time += 50
            }
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            let dedup = try graph.tableStatistics()["dedup"]!
            let storeMB = Double(graph.storeInfo().usedBytes) / 1e6
            graph.close()
            let opening = ContinuousClock.now
            graph = try IdentityGraph(path: directory, storeOptions: options)
            let openSeconds = (ContinuousClock.now - opening) / .seconds(1)
            print(String(
                format: "| %d | %d | %.1f | %.1f | %d | %.0f | %.0f | %.2f |", sent, dedup.entries, Double(dedup.bytes) / 1e6,
                Double(dedup.bytes) / Double(max(1, sent)), dedup.depth, Double(stretch) / seconds, storeMB, openSeconds))
            fflush(nil)
        }
    }
}
