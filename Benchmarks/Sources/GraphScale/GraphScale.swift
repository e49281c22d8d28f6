import Foundation
import StitchGraph
import StitchIdentity
import StitchStore
import StitchWire

/// The graph's scale curve: `apply` throughput (events/s, ~3 identifiers per
/// event, batches of 1,000, every commit fsynced) at stores of 100k, 1M and
/// 10M identifiers, warm lookup latency, and LMDB's own random-put rate at
/// the same sizes, so the graph's cost reads as a ratio to the storage limit.
///
///   GraphScale [--scales 100000,1000000,10000000] [--events 300000] [--dir PATH]
///              [--durability sync|nosync]   (nosync: no fsync, to separate CPU from disk)
///              [--batch 1000]               (events per apply, i.e. per commit)
@main
struct GraphScale {
    static func main() throws {
        let arguments = Arguments(CommandLine.arguments.dropFirst())
        print("| identifiers | apply events/s | ms/batch p50 | ms/batch p99 | MB written/batch | lookup p50 µs | lookup p99 µs | LMDB random puts/s | graph events/s ÷ LMDB puts/s | store GB | peak RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for scale in arguments.scales {
            let row = try measure(scale: scale, arguments: arguments)
            print(row)
            fflush(nil)  // all streams: rows appear as they are measured
        }
    }

    struct Arguments {
        var scales = [100_000, 1_000_000, 10_000_000]
        var events = 300_000
        var directory = NSTemporaryDirectory() + "stitch-graph-scale"
        var durability = StoreOptions.Durability.sync
        var batch = 1000

        init(_ args: ArraySlice<String>) {
            var iterator = args.makeIterator()
            while let arg = iterator.next() {
                switch arg {
                case "--scales": scales = iterator.next()!.split(separator: ",").map { Int($0)! }
                case "--events": events = Int(iterator.next()!)!
                case "--dir": directory = iterator.next()!
                case "--durability": durability = StoreOptions.Durability(rawValue: iterator.next()!)!
                case "--batch": batch = Int(iterator.next()!)!
                default: fatalError("unknown argument \(arg)")
                }
            }
        }
    }

    static func measure(scale: Int, arguments: Arguments) throws -> String {
        let path = arguments.directory + "-\(scale)"
        resetPeakResidentMemory()
        try? FileManager.default.removeItem(atPath: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var workload = Workload(seed: 42)

        // Fill without fsync (a load, not the measurement).
        var fill = try IdentityGraph(path: path, storeOptions: StoreOptions(mapBytes: 1 << 32, durability: .nosync))
        var fillBatches = 0
        while try fill.totals().identifiers < UInt64(scale) {
            let count = min(10_000, (scale - Int(try fill.totals().identifiers) + 2) / 3)
            try fill.apply(workload.newPersonEvents(max(count, 1)), receivedMs: 0)
            // A checkpoint now and then lets LMDB reuse the pages the
            // commits since the last one freed (a pinned snapshot keeps
            // them), as the server's periodic one does.
            fillBatches += 1
            if fillBatches % 20 == 0 { try fill.makeDurable() }
        }
        fill.close()

        // Measure with an fsync per batch.
        fill = try IdentityGraph(path: path, storeOptions: StoreOptions(mapBytes: 1 << 32, durability: arguments.durability))
        let graph = fill
        defer { graph.close() }
        let batches = arguments.events / arguments.batch
        var batchMs: [Double] = []
        let traffic = (0..<batches).map { _ in workload.trafficEvents(arguments.batch) }
        let writtenBefore = bytesWrittenToStorage()
        let start = DispatchTime.now().uptimeNanoseconds
        for batch in traffic {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try graph.apply(batch, receivedMs: 0)
            batchMs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let eventsPerSecond = Double(batches * arguments.batch) / seconds
        let writtenPerBatch = Double(bytesWrittenToStorage() - writtenBefore) / Double(batches) / 1e6

        let (lookupP50, lookupP99) = try lookupLatency(graph, persons: workload.persons)
        let storeBytes = Double(graph.storeInfo().usedBytes)
        let peakMiB = peakResidentMemoryMiB()  // before the raw-LMDB run below adds its own pages
        let putsPerSecond = try rawRandomPutRate(path: path + "-raw", keys: scale)
        batchMs.sort()
        return String(
            format: "| %d | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f | %.0f | %.2f | %.2f | %d |",
            scale, eventsPerSecond, percentile(batchMs, 0.5), percentile(batchMs, 0.99), writtenPerBatch,
            lookupP50, lookupP99, putsPerSecond, eventsPerSecond / putsPerSecond, storeBytes / 1e9, peakMiB
        )
    }

    /// Starts a new peak for `VmHWM` (Linux: writing 5 to clear_refs).
    static func resetPeakResidentMemory() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// The process's peak resident memory since the last reset (`VmHWM`),
    /// including the LMDB map pages it touched (file-backed, reclaimable).
    static func peakResidentMemoryMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }

    /// Lookups of random existing cookies on the warm store, one at a time.
    static func lookupLatency(_ graph: IdentityGraph, persons: Int) throws -> (Double, Double) {
        var random = SplitMix64(seed: 7)
        var micros: [Double] = []
        for _ in 0..<50_000 {
            let person = Int(random.next() % UInt64(persons))
            let identifier = NormalizedIdentifier(uncheckedKind: .cookie, value: Workload.cookie(person))
            let t0 = DispatchTime.now().uptimeNanoseconds
            let found = try graph.lookup(site: 1, identifier: identifier)
            micros.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3)
            precondition(found != nil, "person \(person) not found")
        }
        micros.sort()
        return (percentile(micros, 0.5), percentile(micros, 0.99))
    }

    /// LMDB alone: random 24-byte keys (an identifier key's usual size) with
    /// 8-byte values, filled to `keys` without fsync, then 300,000 more puts
    /// in transactions of 3,000 (a 1,000-event batch's identifiers) with fsync.
    static func rawRandomPutRate(path: String, keys: Int) throws -> Double {
        try? FileManager.default.removeItem(atPath: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var random = SplitMix64(seed: 9)
        func key() -> [UInt8] {
            var bytes: [UInt8] = []
            for _ in 0..<3 { withUnsafeBytes(of: random.next()) { bytes.append(contentsOf: $0) } }
            return bytes
        }
        let value = [UInt8](repeating: 1, count: 8)
        do {
            let env = try Environment(path: path, tables: ["t"], options: StoreOptions(mapBytes: 1 << 32, durability: .nosync))
            let table = env.table("t")
            var left = keys
            while left > 0 {
                let count = min(100_000, left)
                try env.write { txn in for _ in 0..<count { try txn.put(table, key(), value) } }
                left -= count
            }
            env.close()
        }
        let env = try Environment(path: path, tables: ["t"], options: StoreOptions(mapBytes: 1 << 32, durability: .sync))
        defer { env.close() }
        let table = env.table("t")
        let writtenBefore = bytesWrittenToStorage()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<100 {
            try env.write { txn in for _ in 0..<3000 { try txn.put(table, key(), value) } }
        }
        let perCommit = Double(bytesWrittenToStorage() - writtenBefore) / 100 / 1e6
        FileHandle.standardError.write(String(format: "LMDB alone: %.2f MB written per commit of 3,000 puts\n", perCommit).data(using: .utf8)!)
        return 300_000 / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// Bytes written to the machine's block devices (sectors written in
    /// /sys/block/*/stat, Linux), so a run on an idle machine shows what its
    /// commits really sent to disk. (/proc/self/io overstates it: it counts
    /// whole page-cache folios.)
    static func bytesWrittenToStorage() -> Int {
        guard let devices = try? FileManager.default.contentsOfDirectory(atPath: "/sys/block") else { return 0 }
        var sectors = 0
        for device in devices where !device.hasPrefix("loop") && !device.hasPrefix("ram") {
            guard let text = try? String(contentsOfFile: "/sys/block/\(device)/stat", encoding: .utf8) else { continue }
            let fields = text.split(separator: " ")
            if fields.count > 6, let written = Int(fields[6]) { sectors += written }
        }
        return sectors * 512
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}
