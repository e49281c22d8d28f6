import Foundation
import StitchRandom
import StitchStore
import StitchTesting
import Testing

/// The premise of `Environment.checkpoint()` (`Checkpoint`), shown on LMDB
/// alone, without Stitch's code: while a read transaction holds a
/// snapshot, LMDB writes no later commit over that snapshot's pages, so the
/// file still holds the snapshot however many commits followed, and writing
/// its saved meta page back into both meta slots opens the store at exactly
/// that snapshot. A machine crash leaves on disk an unknown subset of the
/// later commits' pages and meta pages; those later pages are all outside
/// the snapshot, so restoring its meta recovers it. The test pins down the
/// LMDB behaviour the checkpoints rely on; `CheckpointTests` tests them.
@Suite struct PinnedSnapshotTests {
    static func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

    /// LMDB's meta pages: page 0 and 1, `MDB_meta` after the 16-byte page
    /// header, its transaction id last (offset 16 + 128 on 64-bit).
    static let metaMagic: UInt32 = 0xBEEF_C0DE
    static let metaTxnidOffset = 144

    /// Random puts (values up to 3 KB, so overflow pages too) and deletes.
    static func churn(
        _ env: Environment, _ table: Table, transactions: Int, model: inout [UInt64: [UInt8]], random: inout SeededGenerator
    ) throws {
        for _ in 0..<transactions {
            var changes: [(UInt64, [UInt8]?)] = []
            for _ in 0..<40 {
                let key = UInt64(random.next(below: 3_000))
                if random.next(below: 4) == 0 {
                    changes.append((key, nil))
                } else {
                    let length = 1 + random.next(below: random.next(below: 8) == 0 ? 3_000 : 200)
                    changes.append((key, (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }))
                }
            }
            try env.write { txn in
                for (key, value) in changes {
                    if let value { try txn.put(table, Self.key(key), value) } else { _ = try txn.delete(table, Self.key(key)) }
                }
            }
            for (key, value) in changes { model[key] = value }
        }
    }

    static func contents(_ env: Environment, _ table: Table) throws -> [UInt64: [UInt8]] {
        try env.read { txn in
            var entries: [UInt64: [UInt8]] = [:]
            try txn.scan(table) { entry in
                let key = entry.key.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                entries[key] = Array(entry.value)
                return true
            }
            return entries
        }
    }

    @Test func restoringAPinnedSnapshotsMetaRecoversItAfterLaterUnsyncedCommits() throws {
        var random = SeededGenerator.forTest("restoringAPinnedSnapshotsMetaRecoversItAfterLaterUnsyncedCommits")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A map that never grows here: growing would wait for the pinned reader.
        let options = StoreOptions(mapBytes: 256 << 20, durability: .nosync)
        let env = try Environment(path: dir.appending("db"), tables: ["t"], options: options)
        let table = env.table("t")
        var live: [UInt64: [UInt8]] = [:]
        try Self.churn(env, table, transactions: 150, model: &live, random: &random)

        // The checkpoint: pin the current snapshot on a thread of its own, save
        // its meta page, sync.
        let pinned = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread {
            _ = try? env.read { _ in
                pinned.signal()
                release.wait()
            }
            done.signal()
        }.start()
        pinned.wait()
        let dataFile = dir.appending("db/data.mdb")
        let metas = try [0, 1].map { try Self.page($0, of: dataFile) }
        for meta in metas { #expect(Self.load(UInt32.self, meta, 16) == Self.metaMagic) }
        let checkpoint = metas.max { Self.load(UInt64.self, $0, Self.metaTxnidOffset) < Self.load(UInt64.self, $1, Self.metaTxnidOffset) }!
        try env.makeDurable()
        let atCheckpoint = try Self.contents(env, table)
        #expect(atCheckpoint == live)

        // Many commits after it, with the pin held: heavy reuse of freed pages.
        try Self.churn(env, table, transactions: 400, model: &live, random: &random)
        #expect(try Self.contents(env, table) == live)
        #expect(live != atCheckpoint)
        let sizeAfter = try FileManager.default.attributesOfItem(atPath: dataFile)[.size] as! Int
        release.signal()
        done.wait()
        env.close()

        // The image a crash could leave: every later page written (the worst
        // case for the snapshot) but the checkpoint's meta in both slots.
        let image = dir.appending("image")
        try FileManager.default.createDirectory(atPath: image, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: dataFile, toPath: image + "/data.mdb")
        for slot in 0..<2 {
            var page = checkpoint
            Self.store(UInt64(slot), &page, 0)  // the page header's own page number
            try Self.write(page, at: slot, of: image + "/data.mdb")
        }
        let recovered = try Environment(path: image, tables: ["t"], options: options)
        #expect(try Self.contents(recovered, recovered.table("t")) == atCheckpoint)
        // And it goes on: commits after recovery reuse the later commits' pages.
        var after = atCheckpoint
        try Self.churn(recovered, recovered.table("t"), transactions: 100, model: &after, random: &random)
        #expect(try Self.contents(recovered, recovered.table("t")) == after)
        recovered.close()
        let reopened = try Environment(path: image, tables: ["t"], options: options)
        #expect(try Self.contents(reopened, reopened.table("t")) == after)
        reopened.close()
        print("pinned snapshot: \(atCheckpoint.count) entries recovered after 400 later commits; file \(sizeAfter / 4096) pages")
    }

    static func page(_ number: Int, of path: String) throws -> [UInt8] {
        let handle = try #require(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(number * 4096))
        return Array(try #require(try handle.read(upToCount: 4096)))
    }

    static func write(_ page: [UInt8], at number: Int, of path: String) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(number * 4096))
        try handle.write(contentsOf: Data(page))
        try handle.synchronize()
    }

    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    static func store<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8], _ offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: T.self) }
    }
}
