#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A store's last checkpoint: the meta page of a snapshot that is entirely
/// on disk, saved beside the store (file `checkpoint`) with the boot it was
/// taken in.
///
/// Why it is needed: with `MDB_NOSYNC` the kernel writes dirty pages back in
/// no particular order, so after a machine crash the data file can hold a
/// newer meta page whose pages never reached the disk, or new pages written
/// over pages the older meta still needs — LMDB's documented risk of
/// `MDB_NOSYNC`. A checkpoint avoids both: `Environment.checkpoint()` pins
/// the snapshot with a read transaction (LMDB reuses no page a reader can
/// see, so no later commit writes over it), flushes the file, and saves the
/// snapshot's meta page here. LMDB overwrites the meta slots themselves two
/// commits later, which is why the page is kept outside the file.
///
/// At open, a checkpoint taken in another boot means the machine went down
/// (a process crash keeps the page cache, and the file is then current), so
/// `restore(into:)` writes the saved meta into both slots of the data file
/// and LMDB opens the checkpoint's snapshot. `PinnedSnapshotTests` and
/// `CheckpointTests` play such crashes.
public struct Checkpoint: Equatable, Sendable {
    /// The snapshot's transaction id.
    public let transactionID: UInt64
    /// The boot it was taken in (`/proc/sys/kernel/random/boot_id`).
    public let bootIdentifier: String
    /// The snapshot's meta page, as LMDB wrote it.
    public let metaPage: [UInt8]

    /// The file's name in the environment's directory.
    public static let fileName = "checkpoint"
    static let magic: [UInt8] = Array("STITCHCK".utf8)
    static let formatVersion: UInt32 = 1
    /// LMDB's meta pages: `MDB_meta` follows the 16-byte page header; its
    /// magic first, its last page in use and its transaction id last
    /// (offsets 16 + 120 and 16 + 128 on 64-bit).
    static let metaMagic: UInt32 = 0xBEEF_C0DE
    static let metaMagicOffset = 16
    static let metaLastPageOffset = 136
    static let metaTransactionIDOffset = 144

    public init(transactionID: UInt64, bootIdentifier: String, metaPage: [UInt8]) {
        self.transactionID = transactionID
        self.bootIdentifier = bootIdentifier
        self.metaPage = metaPage
    }

    /// The current boot's identifier read from `path`; nil when it cannot be
    /// read (not Linux), and then no checkpoint is ever restored.
    public static func bootIdentifier(at path: String) -> String? {
        guard let bytes = try? readFile(path), !bytes.isEmpty else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
        return text.isEmpty ? nil : text
    }

    /// The meta page in `slot` (0 or 1) of the data file open as `fd`.
    static func metaPage(slot: Int, fd: Int32, pageBytes: Int) throws(StoreError) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: pageBytes)
        let read = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, pageBytes, off_t(slot * pageBytes)) }
        guard read == pageBytes else { throw StoreError(.system(read < 0 ? errno : EIO), operation: "read meta page \(slot)") }
        guard LittleEndian.load(UInt32.self, page, at: metaMagicOffset) == metaMagic else {
            throw StoreError(.corrupted, operation: "meta page \(slot) has no LMDB magic")
        }
        return page
    }

    static func transactionID(ofMeta page: [UInt8]) -> UInt64 { LittleEndian.load(UInt64.self, page, at: metaTransactionIDOffset) }

    /// The snapshot's last page in use (`MDB_meta.mm_last_pg`): no page
    /// after it belongs to the snapshot.
    public var lastPage: UInt64 { LittleEndian.load(UInt64.self, metaPage, at: Self.metaLastPageOffset) }

    // MARK: File

    /// The file's bytes: magic, version, transaction id, boot id (length
    /// first), meta page (length first), then an FNV-1a hash of all before it.
    func encoded() -> [UInt8] {
        var bytes = Self.magic
        LittleEndian.append(Self.formatVersion, to: &bytes)
        LittleEndian.append(transactionID, to: &bytes)
        let boot = Array(bootIdentifier.utf8)
        LittleEndian.append(UInt32(boot.count), to: &bytes)
        bytes += boot
        LittleEndian.append(UInt32(metaPage.count), to: &bytes)
        bytes += metaPage
        LittleEndian.append(Self.hash(bytes), to: &bytes)
        return bytes
    }

    init(decoding bytes: [UInt8], path: String) throws(StoreError) {
        let broken = StoreError(.corrupted, operation: "read checkpoint \(path)")
        guard bytes.count >= Self.magic.count + 4 + 8 + 4 + 4 + 8, Array(bytes.prefix(Self.magic.count)) == Self.magic else { throw broken }
        let body = bytes.count - 8
        guard LittleEndian.load(UInt64.self, bytes, at: body) == Self.hash(Array(bytes[..<body])) else { throw broken }
        var offset = Self.magic.count
        guard LittleEndian.load(UInt32.self, bytes, at: offset) == Self.formatVersion else { throw broken }
        offset += 4
        let transactionID = LittleEndian.load(UInt64.self, bytes, at: offset)
        offset += 8
        let bootBytes = Int(LittleEndian.load(UInt32.self, bytes, at: offset))
        offset += 4
        guard bootBytes <= 256, offset + bootBytes + 4 <= body else { throw broken }
        let boot = String(decoding: bytes[offset..<(offset + bootBytes)], as: UTF8.self)
        offset += bootBytes
        let pageBytes = Int(LittleEndian.load(UInt32.self, bytes, at: offset))
        offset += 4
        guard pageBytes >= 256, offset + pageBytes == body else { throw broken }
        let page = Array(bytes[offset..<body])
        guard LittleEndian.load(UInt32.self, page, at: Self.metaMagicOffset) == Self.metaMagic,
            Self.transactionID(ofMeta: page) == transactionID
        else { throw broken }
        self.init(transactionID: transactionID, bootIdentifier: boot, metaPage: page)
    }

    /// Reads the checkpoint of the environment in `directory`; nil if it has none.
    public static func saved(in directory: String) throws(StoreError) -> Checkpoint? {
        let path = directory + "/" + fileName
        guard access(path, F_OK) == 0 else { return nil }
        return try Checkpoint(decoding: try readFile(path), path: path)
    }

    /// Saves the checkpoint into `directory` atomically: a temporary file,
    /// flushed, renamed over the old one, and the directory flushed, so a
    /// crash leaves the old checkpoint or the new one, never half of one.
    func save(directory: String) throws(StoreError) {
        let path = directory + "/" + Self.fileName
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(temporary))") }
        let bytes = encoded()
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let status = written == bytes.count ? fdatasync(fd) : -1
        let failure = written < 0 || status != 0 ? errno : EIO
        close(fd)
        guard written == bytes.count, status == 0 else { throw StoreError(.system(failure), operation: "write(\(temporary))") }
        guard rename(temporary, path) == 0 else { throw StoreError(.system(errno), operation: "rename(\(temporary))") }
        try Self.syncDirectory(directory)
    }

    /// Deletes the checkpoint of `directory` (after a clean close, whose
    /// final sync left the file current: nothing to restore).
    static func remove(directory: String) throws(StoreError) {
        let path = directory + "/" + fileName
        guard unlink(path) == 0 else {
            if errno == ENOENT { return }
            throw StoreError(.system(errno), operation: "unlink(\(path))")
        }
        try syncDirectory(directory)
    }

    /// Writes the saved meta page into both meta slots of `dataFile` and
    /// flushes it: LMDB then opens this checkpoint's snapshot. Each slot's
    /// page header keeps its own page number.
    func restore(into dataFile: String) throws(StoreError) {
        let fd = open(dataFile, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(dataFile))") }
        defer { close(fd) }
        for slot in 0..<2 {
            var page = metaPage
            page.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(slot), toByteOffset: 0, as: UInt64.self) }
            let written = page.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(slot * page.count)) }
            guard written == page.count else {
                throw StoreError(.system(written < 0 ? errno : EIO), operation: "restore meta page \(slot) of \(dataFile)")
            }
        }
        guard fdatasync(fd) == 0 else { throw StoreError(.system(errno), operation: "fdatasync(\(dataFile))") }
    }

    static func syncDirectory(_ directory: String) throws(StoreError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(directory))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError(.system(errno), operation: "fsync(\(directory))") }
    }

    static func readFile(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.system(errno), operation: "open(\(path))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count >= 0 else { throw StoreError(.system(errno), operation: "read(\(path))") }
            if count == 0 { return bytes }
            guard bytes.count + count <= 1 << 20 else { throw StoreError(.corrupted, operation: "read(\(path)): over 1 MiB") }
            bytes += chunk[..<count]
        }
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
