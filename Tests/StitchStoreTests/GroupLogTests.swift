import Foundation
import StitchStore
import StitchTesting
import Testing

/// `GroupLog`: what was appended comes back, in order, across reopenings; a
/// torn last record is cut off; damage no crash leaves is refused; files a
/// checkpoint holds are deleted.
@Suite struct GroupLogTests {
    static func payload(_ sequence: UInt64, bytes: Int = 100) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: Int(sequence) &* 31 &+ $0) }
    }

    static func records(_ log: GroupLog, after: UInt64 = 0) throws -> [UInt64] {
        var sequences: [UInt64] = []
        try log.forEachRecord(after: after) { record in
            #expect(record.payload == payload(record.sequence, bytes: record.payload.count))
            sequences.append(record.sequence)
        }
        return sequences
    }

    static func files(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
    }

    @Test func appendedRecordsComeBackInOrderAfterReopening() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("log")
        do {
            let log = try GroupLog(directory: path, segmentBytesMax: 1_000)
            for sequence in UInt64(1)...30 { try log.append(Self.payload(sequence), sequence: sequence) }
            #expect(log.lastSequence == 30)
            #expect(try Self.records(log) == Array(1...30))
            #expect(try Self.records(log, after: 17) == Array(18...30))
            // ~120 bytes a record, a file closed past 1,000 bytes: several files.
            #expect(log.fileCount > 2)
            #expect(throws: StoreError.self) { try log.append([1], sequence: 30) }
        }
        let reopened = try GroupLog(directory: path, segmentBytesMax: 1_000)
        #expect(reopened.lastSequence == 30)
        #expect(try Self.records(reopened) == Array(1...30))
        // A gap is allowed (the store applied groups while the log was off).
        try reopened.append(Self.payload(40), sequence: 40)
        #expect(try Self.records(reopened, after: 29) == [30, 40])
    }

    @Test func aTornLastRecordIsCutOffAndTheLogGoesOn() throws {
        var random = SeededGenerator.forTest("aTornLastRecordIsCutOffAndTheLogGoesOn")
        for _ in 0..<20 {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let path = dir.appending("log")
            do {
                let log = try GroupLog(directory: path)
                for sequence in UInt64(1)...5 { try log.append(Self.payload(sequence, bytes: 50 + random.next(below: 400)), sequence: sequence) }
            }
            // A crash during the 6th append: some prefix of it reached the disk,
            // or it all did with a byte of it wrong.
            let file = path + "/" + (try Self.files(path)).last!
            let before = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
            var torn = [UInt8](Self.payload(6, bytes: 300))
            let handle = try #require(FileHandle(forUpdatingAtPath: file))
            try handle.seekToEnd()
            if random.next(below: 2) == 0 {
                // Its header, then a cut payload.
                var header: [UInt8] = []
                withUnsafeBytes(of: UInt32(0x314C_4753).littleEndian) { header += $0 }
                withUnsafeBytes(of: UInt32(300).littleEndian) { header += $0 }
                withUnsafeBytes(of: UInt64(6).littleEndian) { header += $0 }
                header += [0, 0, 0, 0]
                torn = Array((header + torn).prefix(1 + random.next(below: 310)))
            } else {
                torn = Array(torn.prefix(1 + random.next(below: 19)))
            }
            try handle.write(contentsOf: Data(torn))
            try handle.close()

            let log = try GroupLog(directory: path)
            #expect(log.lastSequence == 5)
            #expect(try Self.records(log) == Array(1...5))
            #expect(try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int == before)
            try log.append(Self.payload(6), sequence: 6)
            #expect(try Self.records(GroupLog(directory: path)) == Array(1...6))
        }
    }

    @Test func appendsGoIntoZerosLaidDownAheadAndTornOnesAreCut() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("log")
        do {
            let log = try GroupLog(directory: path, segmentBytesMax: 4_096)
            try log.prepareSpare()
            // 120 bytes a record: 34 fit in the first file.
            for sequence in UInt64(1)...34 { try log.append(Self.payload(sequence), sequence: sequence) }
            // The first file was the spare's zeros: appends did not grow it.
            let files = try Self.files(path).filter { $0 != "group-spare.log" }
            #expect(files.count == 1)
            #expect(try FileManager.default.attributesOfItem(atPath: path + "/" + files[0])[.size] as! Int == 4_096)
            // Past its size a file of its own, growing (no spare was laid down since).
            for sequence in UInt64(35)...40 { try log.append(Self.payload(sequence), sequence: sequence) }
            try log.removeLast(sequence: 40, payloadBytes: 100)
            #expect(log.lastSequence == 39)
        }
        let first = path + "/" + (try Self.files(path)).first!
        // A torn append into the zeros of the first file, were it the last: cut there.
        let handle = try #require(FileHandle(forUpdatingAtPath: first))
        let end = 34 * (20 + 100)
        try handle.seek(toOffset: UInt64(end))
        try handle.write(contentsOf: Data([0x53, 0x47, 0x4C, 0x31, 100, 0, 0, 0, 11]))
        try handle.close()
        // It is not the last file: damage no crash leaves, refused.
        #expect(throws: StoreError.self) { _ = try Self.records(try GroupLog(directory: path)) }
        for name in try Self.files(path) where path + "/" + name != first { try FileManager.default.removeItem(atPath: path + "/" + name) }
        let log = try GroupLog(directory: path, segmentBytesMax: 4_096)
        #expect(try Self.records(log) == Array(1...34))
        #expect(try FileManager.default.attributesOfItem(atPath: first)[.size] as! Int == end)
    }

    @Test func aDamagedRecordBeforeTheLastFileIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("log")
        do {
            let log = try GroupLog(directory: path, segmentBytesMax: 500)
            for sequence in UInt64(1)...20 { try log.append(Self.payload(sequence), sequence: sequence) }
        }
        let first = path + "/" + (try Self.files(path)).first!
        let handle = try #require(FileHandle(forUpdatingAtPath: first))
        try handle.seek(toOffset: 30)  // inside the first record's payload
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        #expect(throws: StoreError.self) { _ = try Self.records(try GroupLog(directory: path, segmentBytesMax: 500)) }
    }

    @Test func releaseDeletesTheClosedFilesACheckpointHolds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("log")
        let log = try GroupLog(directory: path, segmentBytesMax: 500)
        for sequence in UInt64(1)...40 { try log.append(Self.payload(sequence), sequence: sequence) }
        let filesBefore = try Self.files(path).count
        log.release(through: 20)
        // Every record after 20 is still there, and some files are gone.
        #expect(try Self.records(log, after: 20) == Array(21...40))
        #expect(try Self.files(path).count < filesBefore)
        #expect(try Self.records(log).first! <= 21)
        log.release(through: 40)
        // The file appended to stays.
        #expect(try Self.files(path).count == 1)
        try log.append(Self.payload(41), sequence: 41)
        #expect(try Self.records(GroupLog(directory: path, segmentBytesMax: 500), after: 40) == [41])
    }

    @Test func removeLastTakesBackARecordWhoseGroupWasNotApplied() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("log")
        let log = try GroupLog(directory: path)
        for sequence in UInt64(1)...3 { try log.append(Self.payload(sequence), sequence: sequence) }
        try log.removeLast(sequence: 3, payloadBytes: 100)
        #expect(log.lastSequence == 2)
        try log.append(Self.payload(3, bytes: 7), sequence: 3)
        #expect(try Self.records(GroupLog(directory: path)) == [1, 2, 3])
    }
}
