import Foundation
import StitchRandom
import StitchStore
import StitchTesting
import Testing

/// `Environment.checkpoint()` and the restore at open (`Checkpoint`), on
/// played machine crashes: the data file a crash can leave is the file as
/// the checkpoint flushed it, with any subset of the later pages and meta
/// pages written over it. Opened in another boot, it must come back as
/// exactly the checkpoint's snapshot; in the same boot (only the process
/// died) as everything committed.
@Suite struct CheckpointTests {
    typealias Model = [UInt64: [UInt8]]

    struct Store {
        let dir: TemporaryDirectory
        let bootA: String
        let bootB: String

        init() throws {
            dir = try TemporaryDirectory()
            bootA = dir.appending("boot-a")
            bootB = dir.appending("boot-b")
            try "6f1c0d2e-aaaa-4000-8000-000000000001\n".write(toFile: bootA, atomically: true, encoding: .utf8)
            try "6f1c0d2e-bbbb-4000-8000-000000000002\n".write(toFile: bootB, atomically: true, encoding: .utf8)
        }

        func options(boot: String, mapBytes: Int = 256 << 20, readOnly: Bool = false) -> StoreOptions {
            StoreOptions(mapBytes: mapBytes, durability: .nosync, readOnly: readOnly, bootIdentifierPath: boot)
        }
    }

    static func file(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// A store directory holding `data` and the checkpoint file of `source`.
    static func image(_ data: [UInt8], checkpointOf source: String, at path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try Data(data).write(to: URL(fileURLWithPath: path + "/data.mdb"))
        try FileManager.default.copyItem(atPath: source + "/checkpoint", toPath: path + "/checkpoint")
    }

    /// What a machine crash could leave: each page as the checkpoint flushed
    /// it or as a later commit wrote it (or, past the old end, not at all),
    /// and each meta slot old, new or torn.
    static func crashImage(atCheckpoint old: [UInt8], now new: [UInt8], random: inout SeededGenerator) -> [UInt8] {
        let page = 4096
        var image = [UInt8]()
        for number in 0..<(new.count / page) {
            let range = (number * page)..<((number + 1) * page)
            let fromOld = range.upperBound <= old.count ? Array(old[range]) : [UInt8](repeating: 0, count: page)
            switch random.next(below: number < 2 ? 3 : 2) {
            case 0: image += fromOld
            case 1: image += new[range]
            default: image += fromOld.prefix(page / 2) + new[range].suffix(page / 2)  // a torn meta page
            }
        }
        return image
    }

    @Test func aMachineCrashReturnsTheStoreToItsLastCheckpoint() throws {
        var random = SeededGenerator.forTest("aMachineCrashReturnsTheStoreToItsLastCheckpoint")
        let store = try Store()
        defer { store.dir.remove() }
        let db = store.dir.appending("db")
        let env = try Environment(path: db, tables: ["t"], options: store.options(boot: store.bootA))
        let table = env.table("t")
        var live = Model()
        try PinnedSnapshotTests.churn(env, table, transactions: 150, model: &live, random: &random)
        let checkpointID = try env.checkpoint()
        let atCheckpoint = live
        let fileAtCheckpoint = try Self.file(db + "/data.mdb")
        // Many commits after it: freed pages reused, the meta slots rewritten.
        try PinnedSnapshotTests.churn(env, table, transactions: 400, model: &live, random: &random)
        let fileNow = try Self.file(db + "/data.mdb")
        #expect(live != atCheckpoint)

        for round in 0..<6 {
            let path = store.dir.appending("crash-\(round)")
            try Self.image(Self.crashImage(atCheckpoint: fileAtCheckpoint, now: fileNow, random: &random), checkpointOf: db, at: path)
            // A read-only tool must not read it before it is restored.
            #expect(throws: StoreError(.needsRecovery, operation: "open \(path)")) {
                _ = try Environment(path: path, tables: ["t"], options: store.options(boot: store.bootB, readOnly: true))
            }
            let recovered = try Environment(path: path, tables: ["t"], options: store.options(boot: store.bootB))
            #expect(recovered.restoredCheckpoint == checkpointID)
            #expect(try PinnedSnapshotTests.contents(recovered, recovered.table("t")) == atCheckpoint)
            // It goes on taking commits, and keeps them.
            var after = atCheckpoint
            try PinnedSnapshotTests.churn(recovered, recovered.table("t"), transactions: 50, model: &after, random: &random)
            recovered.close()
            let reopened = try Environment(path: path, tables: ["t"], options: store.options(boot: store.bootB))
            #expect(reopened.restoredCheckpoint == nil)
            #expect(try PinnedSnapshotTests.contents(reopened, reopened.table("t")) == after)
            reopened.close()
        }

        // Only the process died (same boot): the file is current, nothing is restored.
        let processCrash = store.dir.appending("process-crash")
        try Self.image(fileNow, checkpointOf: db, at: processCrash)
        let same = try Environment(path: processCrash, tables: ["t"], options: store.options(boot: store.bootA))
        #expect(same.restoredCheckpoint == nil)
        #expect(try PinnedSnapshotTests.contents(same, same.table("t")) == live)
        same.close()
        env.close()
    }

    @Test func aCleanCloseLeavesNothingToRestore() throws {
        var random = SeededGenerator.forTest("aCleanCloseLeavesNothingToRestore")
        let store = try Store()
        defer { store.dir.remove() }
        let db = store.dir.appending("db")
        var live = Model()
        do {
            let env = try Environment(path: db, tables: ["t"], options: store.options(boot: store.bootA))
            #expect(FileManager.default.fileExists(atPath: db + "/checkpoint"), "a checkpoint as it opens")
            try PinnedSnapshotTests.churn(env, env.table("t"), transactions: 60, model: &live, random: &random)
            env.close()
        }
        #expect(!FileManager.default.fileExists(atPath: db + "/checkpoint"))
        // The machine restarts after a clean stop: every commit is there.
        let env = try Environment(path: db, tables: ["t"], options: store.options(boot: store.bootB))
        #expect(env.restoredCheckpoint == nil)
        #expect(try PinnedSnapshotTests.contents(env, env.table("t")) == live)
        env.close()
    }

    @Test func checkpointsKeepUpWithMapGrowth() throws {
        var random = SeededGenerator.forTest("checkpointsKeepUpWithMapGrowth")
        let store = try Store()
        defer { store.dir.remove() }
        let db = store.dir.appending("db")
        // A 64 KiB map: it grows many times, with a checkpoint's pin held throughout.
        let env = try Environment(path: db, tables: ["t"], options: store.options(boot: store.bootA, mapBytes: 64 << 10))
        var live = Model()
        var checkpointID: UInt64 = 0
        var atCheckpoint = Model()
        var fileAtCheckpoint: [UInt8] = []
        for round in 0..<10 {
            try PinnedSnapshotTests.churn(env, env.table("t"), transactions: 20, model: &live, random: &random)
            if round % 3 == 0 {
                checkpointID = try env.checkpoint()
                atCheckpoint = live
                fileAtCheckpoint = try Self.file(db + "/data.mdb")
            }
        }
        #expect(env.mapBytes > 64 << 10)
        #expect(try PinnedSnapshotTests.contents(env, env.table("t")) == live)
        let path = store.dir.appending("crash")
        try Self.image(
            Self.crashImage(atCheckpoint: fileAtCheckpoint, now: try Self.file(db + "/data.mdb"), random: &random),
            checkpointOf: db, at: path)
        let recovered = try Environment(path: path, tables: ["t"], options: store.options(boot: store.bootB, mapBytes: 64 << 10))
        #expect(recovered.restoredCheckpoint == checkpointID)
        #expect(try PinnedSnapshotTests.contents(recovered, recovered.table("t")) == atCheckpoint)
        recovered.close()
        env.close()
    }
}
