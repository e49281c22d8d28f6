import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed LMDB call, typed by its return code (every code `lmdb.h` defines),
/// with the operation that returned it.
public struct StoreError: Error, Hashable, Sendable {
    /// Which LMDB (or system) error it was.
    public let code: Code
    /// What Stitch was doing, e.g. `mdb_put(ident)`.
    public let operation: String

    public init(_ code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    init(status: Int32, operation: String) {
        self.init(Code(status: status), operation: operation)
    }

    /// The return codes of `lmdb.h`, plus errno values.
    public enum Code: Hashable, Sendable {
        case keyExists
        case notFound
        case pageNotFound
        case corrupted
        case panic
        case versionMismatch
        case invalid
        /// The map is full; `Environment.write` grows it and retries.
        case mapFull
        case dbsFull
        case readersFull
        case tlsFull
        case transactionFull
        case cursorFull
        case pageFull
        /// Another process grew the map; `Environment` adopts the new size.
        case mapResized
        case incompatible
        case badReaderSlot
        case badTransaction
        /// A key or value of a size LMDB refuses (keys are at most 511 bytes).
        case badValueSize
        case badTable
        /// An operating-system error (errno), e.g. ENOSPC or EACCES.
        case system(Int32)
        /// A read-only open of a store whose machine restarted after its last
        /// checkpoint (`Checkpoint`): only a writable open restores it.
        case needsRecovery

        init(status: Int32) {
            switch status {
            case MDB_KEYEXIST: self = .keyExists
            case MDB_NOTFOUND: self = .notFound
            case MDB_PAGE_NOTFOUND: self = .pageNotFound
            case MDB_CORRUPTED: self = .corrupted
            case MDB_PANIC: self = .panic
            case MDB_VERSION_MISMATCH: self = .versionMismatch
            case MDB_INVALID: self = .invalid
            case MDB_MAP_FULL: self = .mapFull
            case MDB_DBS_FULL: self = .dbsFull
            case MDB_READERS_FULL: self = .readersFull
            case MDB_TLS_FULL: self = .tlsFull
            case MDB_TXN_FULL: self = .transactionFull
            case MDB_CURSOR_FULL: self = .cursorFull
            case MDB_PAGE_FULL: self = .pageFull
            case MDB_MAP_RESIZED: self = .mapResized
            case MDB_INCOMPATIBLE: self = .incompatible
            case MDB_BAD_RSLOT: self = .badReaderSlot
            case MDB_BAD_TXN: self = .badTransaction
            case MDB_BAD_VALSIZE: self = .badValueSize
            case MDB_BAD_DBI: self = .badTable
            default: self = .system(status)
            }
        }

        var status: Int32 {
            switch self {
            case .keyExists: MDB_KEYEXIST
            case .notFound: MDB_NOTFOUND
            case .pageNotFound: MDB_PAGE_NOTFOUND
            case .corrupted: MDB_CORRUPTED
            case .panic: MDB_PANIC
            case .versionMismatch: MDB_VERSION_MISMATCH
            case .invalid: MDB_INVALID
            case .mapFull: MDB_MAP_FULL
            case .dbsFull: MDB_DBS_FULL
            case .readersFull: MDB_READERS_FULL
            case .tlsFull: MDB_TLS_FULL
            case .transactionFull: MDB_TXN_FULL
            case .cursorFull: MDB_CURSOR_FULL
            case .pageFull: MDB_PAGE_FULL
            case .mapResized: MDB_MAP_RESIZED
            case .incompatible: MDB_INCOMPATIBLE
            case .badReaderSlot: MDB_BAD_RSLOT
            case .badTransaction: MDB_BAD_TXN
            case .badValueSize: MDB_BAD_VALSIZE
            case .badTable: MDB_BAD_DBI
            case .system(let errno): errno
            case .needsRecovery: EAGAIN
            }
        }
    }
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        if code == .needsRecovery {
            return "\(operation): the machine restarted since the store's last checkpoint; open it once with a writable tool (stitch serve) to restore it"
        }
        return "\(operation): \(String(cString: mdb_strerror(code.status)))"
    }
}

/// Throws a `StoreError` for a non-zero LMDB status.
@inline(__always)
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(StoreError) {
    if status != 0 { throw StoreError(status: status, operation: operation()) }
}
