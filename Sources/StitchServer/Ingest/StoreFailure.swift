import Foundation
import StitchStore

/// Words for an operator when a group commit fails.
///
/// LMDB reports a write that hit a full disk as whatever the failing call
/// returned: ENOSPC from `pwrite`, but EIO from a `msync`/`fdatasync` that
/// could not flush, which reads as "Input/output error" and sends an operator
/// looking for a broken disk. So the free space of the store's file system is
/// checked too, and a nearly full disk is named as such.
enum StoreFailure {
    /// Below this many free bytes the failure is called a full disk.
    static let diskFullBytesMin: UInt64 = 64 << 20

    static func describe(_ error: any Error, dataDirectory: String) -> String {
        let free = freeBytes(dataDirectory)
        let isDiskFull: Bool
        if let store = error as? StoreError, case .system(let errno) = store.code, errno == ENOSPC {
            isDiskFull = true
        } else {
            isDiskFull = free.map { $0 < diskFullBytesMin } ?? false
        }
        guard isDiskFull else { return "\(error)" }
        let space = free.map { "\($0 >> 20) MiB free" } ?? "free space unknown"
        return "disk full: the file system of \(dataDirectory) has \(space) (\(error))"
    }

    /// Free bytes for an unprivileged writer on the file system holding `path`.
    static func freeBytes(_ path: String) -> UInt64? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
    }
}
