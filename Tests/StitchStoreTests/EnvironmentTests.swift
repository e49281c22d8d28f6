import Foundation
import StitchStore
import Synchronization
import StitchRandom
import StitchTesting
import Testing

@Suite struct EnvironmentTests {
    static func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

    @Test func writesCommitAndReadsSeeThem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(path: dir.appending("db"), tables: ["t"])
        let t = env.table("t")
        try env.write { txn in try txn.put(t, [1], [10, 11]) }
        let value = try env.read { txn in try txn.get(t, [1]).map { Array($0) } }
        #expect(value == [10, 11])
        #expect(try env.read { txn in try txn.get(t, [2]) == nil })
    }

    @Test func throwingClosureAbortsTheWrite() throws {
        struct Oops: Error {}
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(path: dir.appending("db"), tables: ["t"])
        let t = env.table("t")
        #expect(throws: Oops.self) {
            try env.write { txn in
                try txn.put(t, [1], [1])
                throw Oops()
            }
        }
        #expect(try env.read { txn in try txn.count(t) } == 0)
    }

    @Test func mapGrowsFromATinySize() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tiny = 64 * 1024
        let env = try Environment(
            path: dir.appending("db"), tables: ["t"],
            options: StoreOptions(mapBytes: tiny, durability: .nosync)
        )
        let t = env.table("t")
        let value = [UInt8](repeating: 0xAB, count: 1000)
        // 20 MB in transactions of 500 puts: each one overflows the map
        // several times while it is small.
        for batch in 0..<40 {
            try env.write { txn in
                for i in 0..<500 {
                    try txn.put(t, Self.key(UInt64(batch * 500 + i)), value)
                }
            }
        }
        #expect(env.mapBytes > 20_000_000)
        #expect(try env.read { txn in try txn.count(t) } == 20_000)
        let last = try env.read { txn in try txn.get(t, Self.key(19_999)).map { Array($0) } }
        #expect(last == value)
    }

    /// `info()` reads the meta page inside the map: from another thread it
    /// must wait out a growth, which unmaps the old map (a writer's metrics
    /// once read an unmapped page and crashed the server).
    @Test func infoFromAnotherThreadWhileTheMapGrows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(
            path: dir.appending("db"), tables: ["t"], options: StoreOptions(mapBytes: 64 * 1024, durability: .nosync))
        let t = env.table("t")
        let value = [UInt8](repeating: 0xCD, count: 4000)
        let done = Atomic<Bool>(false)
        let reads = Atomic<Int>(0)
        let reader = Thread {
            while !done.load(ordering: .relaxed) {
                #expect(env.info().usedBytes <= env.info().mapBytes + 64 * 1024)
                reads.add(1, ordering: .relaxed)
            }
        }
        reader.start()
        let startMapBytes = env.mapBytes
        for batch in 0..<200 {
            try env.write { txn in
                for i in 0..<50 { try txn.put(t, Self.key(UInt64(batch * 50 + i)), value) }
            }
        }
        done.store(true, ordering: .relaxed)
        while !reader.isFinished { usleep(1000) }
        #expect(env.mapBytes > 16 * startMapBytes && reads.load(ordering: .relaxed) > 0)
    }

    @Test func oneHugeTransactionStillFits() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(
            path: dir.appending("db"), tables: ["t"],
            options: StoreOptions(mapBytes: 64 * 1024, durability: .nosync)
        )
        let t = env.table("t")
        var runs = 0
        try env.write { txn in
            runs += 1
            for i in 0..<5_000 {
                try txn.put(t, Self.key(UInt64(i)), [UInt8](repeating: 1, count: 500))
            }
        }
        #expect(runs > 1, "the closure was rerun after the map grew")
        #expect(try env.read { txn in try txn.count(t) } == 5_000)
    }

    @Test func mapGrowthStopsAtTheConfiguredMaximum() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(
            path: dir.appending("db"), tables: ["t"],
            options: StoreOptions(mapBytes: 64 * 1024, mapBytesMax: 1 << 20, durability: .nosync)
        )
        let t = env.table("t")
        let error = #expect(throws: StoreError.self) {
            try env.write { txn in
                for i in 0..<5_000 { try txn.put(t, Self.key(UInt64(i)), [UInt8](repeating: 1, count: 500)) }
            }
        }
        #expect(error?.code == .mapFull)
        // The failed write left nothing behind and the store still works.
        try env.write { txn in try txn.put(t, [1], [1]) }
        #expect(try env.read { txn in try txn.count(t) } == 1)
    }

    @Test func oversizedKeyIsATypedError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(path: dir.appending("db"), tables: ["t"])
        let t = env.table("t")
        let error = #expect(throws: StoreError.self) {
            try env.write { txn in try txn.put(t, [UInt8](repeating: 1, count: 512), [1]) }
        }
        #expect(error?.code == .badValueSize)
        #expect(error?.description.contains("mdb_put(t)") == true)
    }

    @Test func cursorWalksInKeyOrder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(path: dir.appending("db"), tables: ["t"])
        let t = env.table("t")
        try env.write { txn in
            for n: UInt64 in [5, 1, 9, 3] { try txn.put(t, Self.key(n), Self.key(n * 10)) }
        }
        let keys: [UInt64] = try env.read { txn in
            try txn.withCursor(t) { cursor in
                var keys: [UInt64] = []
                var entry = try cursor.seek(atLeast: Self.key(2))
                while let (key, _) = entry {
                    keys.append(key.loadUnaligned(as: UInt64.self).bigEndian)
                    entry = try cursor.next()
                }
                return keys
            }
        }
        #expect(keys == [3, 5, 9])
        let lastKey = try env.read { txn in
            try txn.withCursor(t) { cursor in try cursor.last().map { $0.key.loadUnaligned(as: UInt64.self).bigEndian } }
        }
        #expect(lastKey == 9)
    }

    /// `Cursor.put` takes LMDB's same-leaf shortcut for sorted keys; whatever
    /// the keys' order and whether they replace entries or split leaves, the
    /// table must end up exactly as `Transaction.put` would leave it.
    @Test func cursorPutsStoreWhatPlainPutsStore() throws {
        var random = SeededGenerator.forTest("cursorPutsStoreWhatPlainPutsStore")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(path: dir.appending("db"), tables: ["plain", "cursor"], options: StoreOptions(durability: .nosync))
        let plain = env.table("plain"), viaCursor = env.table("cursor")
        var expected: [UInt64: [UInt8]] = [:]
        for round in 0..<20 {
            // Sorted runs with gaps, repeats of stored keys, and a few out of order.
            var keys = (0..<300).map { _ in UInt64(random.next(below: 20_000)) }.sorted()
            if round % 3 == 0 { keys.shuffle(using: &random) }
            let tail = (expected.keys.max() ?? 20_000) + 1
            try env.write { txn in
                try txn.withCursor(viaCursor) { cursor in
                    for key in keys {
                        let value = Array(repeating: UInt8(truncatingIfNeeded: key &+ UInt64(round)), count: 1 + Int(key % 90))
                        try cursor.put(Self.key(key), value)
                        try txn.put(plain, Self.key(key), value)
                        expected[key] = value
                    }
                    // Appends after every key, through the same cursor.
                    for key in tail..<(tail + 50) {
                        try cursor.put(Self.key(key), [7], append: true)
                        try txn.put(plain, Self.key(key), [7], append: true)
                        expected[key] = [7]
                    }
                }
            }
        }
        func contents(_ table: Table) throws -> [UInt64: [UInt8]] {
            try env.read { txn in
                var entries: [UInt64: [UInt8]] = [:]
                try txn.scan(table) { key, value in
                    entries[key.loadUnaligned(as: UInt64.self).bigEndian] = Array(value)
                    return true
                }
                return entries
            }
        }
        #expect(try contents(viaCursor) == expected)
        #expect(try contents(plain) == expected)
        #expect(try env.read { txn in try txn.count(viaCursor) } == expected.count)
    }

    @Test func readersSeeASnapshot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try Environment(path: dir.appending("db"), tables: ["t"])
        let t = env.table("t")
        try env.write { txn in try txn.put(t, [1], [1]) }
        try env.read { reader in
            // A write commits while this reader is open; it does not see it.
            try env.write { txn in try txn.put(t, [1], [2]) }
            #expect(try reader.get(t, [1]).map { Array($0) } == [1])
        }
        #expect(try env.read { txn in try txn.get(t, [1]).map { Array($0) } } == [2])
    }

    @Test func reopenKeepsDataAndReadOnlyOpenWorks() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let env = try Environment(path: dir.appending("db"), tables: ["t"])
            try env.write { txn in try txn.put(env.table("t"), [7], [7]) }
            env.close()
        }
        let readOnly = try Environment(path: dir.appending("db"), tables: ["t"], options: StoreOptions(readOnly: true))
        #expect(try readOnly.read { txn in try txn.get(readOnly.table("t"), [7]).map { Array($0) } } == [7])
        #expect(throws: StoreError.self) {
            try Environment(path: dir.appending("missing"), tables: ["t"], options: StoreOptions(readOnly: true))
        }
    }
}
