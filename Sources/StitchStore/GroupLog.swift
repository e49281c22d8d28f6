import CZlib
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shard's group log (`durability = log`): each group the writer commits
/// is appended here and flushed (`fdatasync`) before it is acknowledged,
/// while the store itself commits without a flush and is checkpointed
/// (`Checkpoint`) in the background.
///
/// Why: a commit of a grown store dirties ~1,000 B-tree pages scattered
/// over the file, and this disk charges per scattered page (~40 ms to flush
/// 1,000 of them, ~1 ms for as many bytes written in a row;
/// docs/performance.md). The log turns the flush on the ack path into one
/// sequential write.
///
/// Records are numbered: sequence N is the Nth group given to the shard's
/// store, which records the last sequence it applied in the same
/// transaction (`IdentityGraph.apply(segments:first:)`). Recovery replays
/// the records after the store's — after a machine crash, after the
/// restored checkpoint's — so each is applied exactly once.
///
/// On disk: files `group-<first sequence>.log` in one directory, each a run
/// of records `magic u32 | length u32 | sequence u64 | crc32 u32 |
/// payload`, little-endian, the CRC over sequence and payload, ended by
/// zeros or the file's end. A crash can tear only the last record (each
/// append is flushed before the next), so opening cuts the last file at its
/// first record that does not check. A file holds up to `segmentBytesMax`;
/// `release(through:)` deletes closed files every record of which a
/// checkpoint holds.
///
/// Files are written into zeros laid down ahead of time (`prepareSpare()`,
/// off the ack path): an append that grows a file changes its size, and
/// flushing a size is a journal commit, which on ext4 (`data=ordered`)
/// first writes out the data of every file the commit covers — the store's
/// own pages among them. An append into allocated zeros changes data only.
public final class GroupLog: Sendable {
    /// One record read back.
    public struct Record: Sendable {
        public let sequence: UInt64
        public let payload: [UInt8]
    }

    /// The log's directory.
    public let directory: String
    /// A file is closed once it is this long, so checkpoints can delete it.
    public let segmentBytesMax: Int
    private let state: Mutex<State>

    static let recordMagic: UInt32 = 0x314C_4753  // "SGL1"
    static let headerBytes = 20
    /// No record is longer: a group is bounded far below it (a group holds at
    /// most `group_beacons_max` beacons of at most a frame each).
    public static let payloadBytesMax = 256 << 20
    static let filePrefix = "group-"
    static let fileSuffix = ".log"
    /// The zero-filled file the next segment is made from.
    static let spareName = "group-spare.log"

    struct Segment {
        let first: UInt64
        var last: UInt64
        var path: String
    }

    struct State {
        /// Closed files, oldest first, then the one appended to (if any).
        var segments: [Segment] = []
        /// The file appended to, and its length.
        var fd: Int32 = -1
        var bytes = 0
        /// The last sequence appended (0: none).
        var lastSequence: UInt64 = 0
        /// Whether the spare file is ready to become the next segment.
        var spareReady = false
    }

    /// Opens the log in `directory` (created if missing): checks every
    /// record and cuts a torn last record off the last file.
    ///
    /// - Throws: `StoreError` (`.corrupted` for a damaged record before the
    ///   last file's end, which no crash can cause).
    public init(directory: String, segmentBytesMax: Int = 64 << 20) throws {
        self.directory = directory
        self.segmentBytesMax = segmentBytesMax
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw StoreError(.system(errno), operation: "mkdir(\(directory))")
        }
        var state = State()
        let firsts = try Self.segmentFirsts(in: directory)
        for (index, first) in firsts.enumerated() {
            let path = Self.path(directory, first)
            let isLast = index == firsts.count - 1
            var last: UInt64 = 0
            let valid = try Self.scan(path: path, stopAtDamage: isLast) { record in last = record.sequence }
            if let validBytes = valid.cutAt {
                try Self.truncate(path: path, to: validBytes)
            }
            if last == 0 {
                // An empty file (a crash before its first record): not a segment.
                unlink(path)
                continue
            }
            state.segments.append(Segment(first: first, last: last, path: path))
            state.lastSequence = max(state.lastSequence, last)
        }
        unlink(directory + "/" + Self.spareName + ".tmp")
        var spare = stat()
        state.spareReady = stat(directory + "/" + Self.spareName, &spare) == 0 && Int(spare.st_size) == segmentBytesMax
        self.state = Mutex(state)
    }

    deinit {
        state.withLock { if $0.fd >= 0 { close($0.fd) } }
    }

    /// The last sequence the log holds (0: none).
    public var lastSequence: UInt64 { state.withLock { $0.lastSequence } }

    /// Files the log holds.
    public var fileCount: Int { state.withLock { $0.segments.count } }

    /// Appends `payload` as record `sequence` and flushes it; returns once it
    /// is on disk. Sequences only grow (a gap is allowed: the store may have
    /// applied groups while the log was off). On failure the file is cut
    /// back, so the log holds nothing of the record.
    public func append(_ payload: [UInt8], sequence: UInt64) throws(StoreError) {
        try write(payload, sequence: sequence)
        do throws(StoreError) {
            try flush()
        } catch {
            state.withLock { state in
                _ = ftruncate(state.fd, off_t(state.bytes - Self.headerBytes - payload.count))
                Self.forgetLast(&state, sequence: sequence, recordBytes: Self.headerBytes + payload.count)
            }
            throw error
        }
    }

    /// Writes `payload` as record `sequence`, without flushing it: `flush()`
    /// must return before the record counts as logged, and before the next
    /// `write` (so only the last record can ever be torn). The writer runs
    /// the flush beside its apply (`ShardGroupLogs`). On failure the file is
    /// cut back, so the log holds nothing of the record.
    public func write(_ payload: [UInt8], sequence: UInt64) throws(StoreError) {
        guard payload.count <= Self.payloadBytesMax else {
            throw StoreError(.badValueSize, operation: "group log record of \(payload.count) bytes (at most \(Self.payloadBytesMax))")
        }
        try state.withLock { (state: inout State) throws(StoreError) in
            guard sequence > state.lastSequence else {
                throw StoreError(.invalid, operation: "group log append \(sequence) after \(state.lastSequence)")
            }
            let recordBytes = Self.headerBytes + payload.count
            if state.fd < 0 || (state.bytes > 0 && state.bytes + recordBytes > segmentBytesMax) {
                try startSegment(&state, first: sequence)
            }
            var header = [UInt8]()
            header.reserveCapacity(Self.headerBytes)
            LittleEndian.append(Self.recordMagic, to: &header)
            LittleEndian.append(UInt32(payload.count), to: &header)
            LittleEndian.append(sequence, to: &header)
            LittleEndian.append(Self.checksum(sequence: sequence, payload: payload), to: &header)
            // Header and payload in one call, without copying the payload.
            let written = header.withUnsafeBytes { head in
                payload.withUnsafeBytes { body in
                    var parts = [
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress), iov_len: body.count),
                    ]
                    return pwritev(state.fd, &parts, 2, off_t(state.bytes))
                }
            }
            guard written == recordBytes else {
                let failure = written < 0 ? errno : ENOSPC
                _ = ftruncate(state.fd, off_t(state.bytes))
                throw StoreError(.system(failure), operation: "append to group log \(directory)")
            }
            state.bytes += recordBytes
            state.lastSequence = sequence
            state.segments[state.segments.count - 1].last = sequence
        }
    }

    /// Flushes the file the last `write` went to (`fdatasync`). The lock is
    /// not held meanwhile: only the writer appends, and it waits for this
    /// flush before its next write.
    public func flush() throws(StoreError) {
        let fd = state.withLock { $0.fd }
        guard fd >= 0 else { return }
        guard fdatasync(fd) == 0 else {
            throw StoreError(.system(errno), operation: "flush group log \(directory)")
        }
    }

    /// Takes back the last record appended (`sequence`): its group was not
    /// applied (the store failed), so it was refused and will be resent.
    /// Its bytes are zeroed (the end of the file's records) and flushed.
    public func removeLast(sequence: UInt64, payloadBytes: Int) throws(StoreError) {
        try state.withLock { (state: inout State) throws(StoreError) in
            guard state.lastSequence == sequence, state.fd >= 0 else { return }
            let recordBytes = Self.headerBytes + payloadBytes
            let start = state.bytes - recordBytes
            let zeros = [UInt8](repeating: 0, count: recordBytes)
            let written = zeros.withUnsafeBytes { pwrite(state.fd, $0.baseAddress, $0.count, off_t(start)) }
            guard written == recordBytes, fdatasync(state.fd) == 0 else {
                throw StoreError(.system(written < 0 ? errno : EIO), operation: "take back a record of group log \(directory)")
            }
            Self.forgetLast(&state, sequence: sequence, recordBytes: recordBytes)
        }
    }

    /// The state without its last record, `sequence`, once its bytes are gone.
    private static func forgetLast(_ state: inout State, sequence: UInt64, recordBytes: Int) {
        let start = state.bytes - recordBytes
        state.bytes = start
        let segment = state.segments.count - 1
        if start == 0 {
            state.segments[segment].last = state.segments[segment].first - 1
            state.lastSequence = segment > 0 ? state.segments[segment - 1].last : 0
        } else {
            state.segments[segment].last = sequence - 1
            state.lastSequence = sequence - 1
        }
    }

    /// Lays down the next segment's zeros (`segmentBytesMax` of them,
    /// flushed) unless they are ready: the checkpoint thread calls it, so
    /// the writer finds them when it starts a segment.
    public func prepareSpare() throws(StoreError) {
        guard !state.withLock({ $0.spareReady }) else { return }
        let temporary = directory + "/" + Self.spareName + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(temporary))") }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        var failure: Int32 = 0
        while offset < segmentBytesMax, failure == 0 {
            let count = min(chunk.count, segmentBytesMax - offset)
            let written = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, count, off_t(offset)) }
            if written <= 0 { failure = written < 0 ? errno : ENOSPC } else { offset += written }
        }
        if failure == 0, fdatasync(fd) != 0 { failure = errno }
        close(fd)
        guard failure == 0, rename(temporary, directory + "/" + Self.spareName) == 0 else {
            let reason = failure != 0 ? failure : errno
            unlink(temporary)
            throw StoreError(.system(reason), operation: "prepare the next group log file in \(directory)")
        }
        try Checkpoint.syncDirectory(directory)
        state.withLock { $0.spareReady = true }
    }

    /// Deletes the closed files every record of which is at or before
    /// `sequence` (a checkpoint holds them). The file appended to stays.
    public func release(through sequence: UInt64) {
        let doomed = state.withLock { (state: inout State) -> [String] in
            let closedCount = state.fd >= 0 ? state.segments.count - 1 : state.segments.count
            var doomed: [String] = []
            while doomed.count < closedCount, state.segments[doomed.count].last <= sequence {
                doomed.append(state.segments[doomed.count].path)
            }
            state.segments.removeFirst(doomed.count)
            return doomed
        }
        // A delete a crash undoes only brings back records a checkpoint holds.
        for path in doomed { unlink(path) }
    }

    /// Calls `body` with each record after `sequence`, oldest first.
    public func forEachRecord(after sequence: UInt64, _ body: (Record) throws -> Void) throws {
        let paths = state.withLock { state in state.segments.filter { $0.last > sequence }.map(\.path) }
        for path in paths {
            _ = try Self.scan(path: path, stopAtDamage: false) { record in
                if record.sequence > sequence { try body(record) }
            }
        }
    }

    // MARK: Files

    /// Starts the file records from `first` on go to: the spare's zeros
    /// when ready, else a file that grows with its appends.
    private func startSegment(_ state: inout State, first: UInt64) throws(StoreError) {
        let path = Self.path(directory, first)
        let spare = directory + "/" + Self.spareName
        let fromSpare = state.spareReady && rename(spare, path) == 0
        if fromSpare { state.spareReady = false }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (fromSpare ? 0 : O_TRUNC), 0o644)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(path))") }
        // The new name must survive a crash with the records in it.
        do {
            try Checkpoint.syncDirectory(directory)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        if state.fd >= 0 { close(state.fd) }
        state.fd = fd
        state.bytes = 0
        state.segments.append(Segment(first: first, last: first - 1, path: path))
    }

    static func path(_ directory: String, _ first: UInt64) -> String {
        let digits = String(first)
        return directory + "/" + filePrefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + fileSuffix
    }

    /// The first sequences of the log files in `directory`, ascending.
    static func segmentFirsts(in directory: String) throws(StoreError) -> [UInt64] {
        guard let dir = opendir(directory) else { throw StoreError(.system(errno), operation: "opendir(\(directory))") }
        defer { closedir(dir) }
        var firsts: [UInt64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(filePrefix), name.hasSuffix(fileSuffix),
                let first = UInt64(name.dropFirst(filePrefix.count).dropLast(fileSuffix.count)), first > 0
            else { continue }
            firsts.append(first)
        }
        return firsts.sorted()
    }

    /// Reads `path`'s records in order, calling `body` for each. Stops at
    /// the first record that does not check: with `stopAtDamage` it returns
    /// where the valid records end (`cutAt`) when that is before the end;
    /// otherwise that is damage no crash leaves, and it throws.
    static func scan(
        path: String, stopAtDamage: Bool, _ body: (Record) throws -> Void
    ) throws -> (records: Int, cutAt: Int?) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(path))") }
        defer { close(fd) }
        var offset = 0
        var records = 0
        var previous: UInt64 = 0
        var header = [UInt8](repeating: 0, count: headerBytes)
        while true {
            let got = try readFully(fd, &header, at: offset, path: path)
            // The file's end, or the zeros it was laid down with.
            if got == 0 || (got == headerBytes && header.allSatisfy { $0 == 0 }) { return (records, nil) }
            var damage: String?
            var payload: [UInt8] = []
            let length = Int(LittleEndian.load(UInt32.self, header, at: 4))
            let sequence = LittleEndian.load(UInt64.self, header, at: 8)
            if got < headerBytes {
                damage = "a header cut short"
            } else if LittleEndian.load(UInt32.self, header, at: 0) != recordMagic {
                damage = "no record magic"
            } else if length > payloadBytesMax {
                damage = "a length of \(length) bytes"
            } else if sequence <= previous {
                damage = "sequence \(sequence) after \(previous)"
            } else {
                payload = [UInt8](repeating: 0, count: length)
                if try readFully(fd, &payload, at: offset + headerBytes, path: path) < length {
                    damage = "a record cut short"
                } else if checksum(sequence: sequence, payload: payload) != LittleEndian.load(UInt32.self, header, at: 16) {
                    damage = "a checksum mismatch"
                }
            }
            if let damage {
                if stopAtDamage { return (records, offset) }
                throw StoreError(.corrupted, operation: "group log \(path) at byte \(offset): \(damage)")
            }
            try body(Record(sequence: sequence, payload: payload))
            previous = sequence
            records += 1
            offset += headerBytes + length
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many (fewer only at the end).
    static func readFully(_ fd: Int32, _ buffer: inout [UInt8], at offset: Int, path: String) throws(StoreError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            guard count >= 0 else { throw StoreError(.system(errno), operation: "read(\(path))") }
            if count == 0 { break }
            done += count
        }
        return done
    }

    static func truncate(path: String, to bytes: Int) throws(StoreError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(path))") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(bytes)) == 0, fdatasync(fd) == 0 else {
            throw StoreError(.system(errno), operation: "cut torn record off \(path)")
        }
    }

    static func checksum(sequence: UInt64, payload: [UInt8]) -> UInt32 {
        var crc = withUnsafeBytes(of: sequence.littleEndian) { crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), 8) }
        crc = payload.withUnsafeBytes { crc32(crc, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
        return UInt32(truncatingIfNeeded: crc)
    }
}
