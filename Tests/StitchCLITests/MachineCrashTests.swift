import Foundation
import StitchStore
import StitchTesting
import Testing

/// `durability = log` against machine crashes, played on a real `stitch
/// serve`: it is SIGKILLed at a random moment while a client pipelines
/// batches, and then the page cache is "lost" too — both meta pages of each
/// shard's data file are overwritten with noise, and every page past the
/// last checkpoint's end is kept, zeroed or overwritten with noise, as a
/// crash could leave them. The next start (in another boot, `boot_id_file`)
/// must restore each shard's checkpoint and replay its group log, so that
/// every acknowledged beacon is there, and every resent one exactly once.
@Suite("Machine crashes in log mode")
struct MachineCrashTests {
    /// Both ack points: after the commit, and after the group log with the
    /// apply behind (`ack_after = log`, whose acks run ahead of the store).
    @Test("the machine goes down at random moments: no acknowledged beacon is lost, none is stored twice", arguments: ["commit", "log"])
    func noAcknowledgedBeaconIsLost(ackAfter: String) async throws {
        var random = SeededGenerator.forTest("machine crashes in log mode, ack after \(ackAfter)")
        let seed = random.state
        let directory = try TemporaryDirectory("stitch-reboot")
        defer { directory.remove() }
        let crashes = 4
        var ledger = ExactlyOnceKillTests.Ledger()
        var serve: ServeProcessTests.ServeProcess!
        var startsThatReplayed = 0
        for life in 0...crashes {
            let boot = directory.appending("boot-\(life)")
            try "boot-\(life)-of-\(seed)\n".write(toFile: boot, atomically: true, encoding: .utf8)
            // Every other life checkpoints often; the others only at open, so
            // the whole life is replayed from the log.
            serve = try ServeProcessTests.ServeProcess(directory: directory, extraArguments: [
                "--durability", "log", "--set", "boot_id_file=\(boot)", "--set", "ack_after=\(ackAfter)",
                "--set", "sync_interval_ms=\(life.isMultiple(of: 2) ? 50 : 600_000)",
            ])
            if life > 0 {
                #expect(serve.log.contains("restored it"), "seed \(seed): \(serve.log)")
                if serve.log.contains("replayed") { startsThatReplayed += 1 }
            }
            if life == crashes { break }
            let pid = serve.pid
            let delayMs = 50 + Int(random.next() % 400)
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delayMs)) { kill(pid, SIGKILL) }
            await ExactlyOnceKillTests.runOnce(port: serve.ports["ingest"]!, ledger: &ledger, newBatches: 400)
            serve.child.wait()
            let damaged = try Self.losePageCache(dataDirectory: directory.appending("data"), random: &random)
            print("machine crash \(life + 1): \(ledger.acks) batches acked so far, \(ledger.unacked.count) unacked; \(damaged) pages past the checkpoints damaged (seed \(seed))")
        }
        #expect(startsThatReplayed > 0, "seed \(seed): a start replayed groups logged after its checkpoint")
        try await ExactlyOnceKillTests.settleAndCheck(serve, ledger: &ledger, cycles: crashes, seed: seed)
    }

    /// Damages each shard's data file as a machine crash could: the meta
    /// pages torn, the pages no checkpoint needs (past its last page) in any
    /// state. Returns how many pages it changed.
    static func losePageCache(dataDirectory: String, random: inout SeededGenerator) throws -> Int {
        var shards = [dataDirectory]
        for name in try FileManager.default.contentsOfDirectory(atPath: dataDirectory) where name.hasPrefix("shard-") {
            shards.append(dataDirectory + "/" + name)
        }
        var damaged = 0
        let page = 4096
        for shard in shards {
            let checkpoint = try #require(try Checkpoint.saved(in: shard), "\(shard) has a checkpoint")
            let lastPage = checkpoint.lastPage
            let file = shard + "/data.mdb"
            let pages = (try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int) / page
            let handle = try #require(FileHandle(forUpdatingAtPath: file))
            defer { try? handle.close() }
            func noise() -> Data { Data((0..<page).map { _ in UInt8(truncatingIfNeeded: random.next()) }) }
            for number in [0, 1] + Array(Int(lastPage + 1)..<max(Int(lastPage + 1), pages)) {
                let state = number < 2 ? 2 : random.next(below: 3)
                guard state > 0 else { continue }
                try handle.seek(toOffset: UInt64(number * page))
                try handle.write(contentsOf: state == 1 ? Data(count: page) : noise())
                damaged += 1
            }
            try handle.synchronize()
        }
        return damaged
    }
}
