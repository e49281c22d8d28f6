#if canImport(Glibc)
import Glibc
#endif

/// Bytes the calling thread has passed to write system calls so far
/// (`wchar` of `/proc/thread-self/io`). LMDB writes a commit's dirty pages
/// from the committing thread (no `MDB_WRITEMAP`), so the difference across
/// `mdb_txn_commit` is the pages the commit wrote, plus its meta record.
enum ThreadWrites {
    /// nil where the kernel does not tell (not Linux, no procfs).
    static func bytes() -> Int? {
        #if os(Linux)
        let fd = open("/proc/thread-self/io", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        // The second line: "wchar: N".
        let text = buffer[..<count]
        guard let start = text.firstRange(of: Array("wchar: ".utf8))?.upperBound else { return nil }
        var value = 0
        for byte in text[start...] {
            guard byte >= 48 && byte <= 57 else { break }
            value = value * 10 + Int(byte - 48)
        }
        return value
        #else
        return nil
        #endif
    }
}
