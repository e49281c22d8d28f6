#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread read-write lock. Read transactions hold it shared; growing the
/// map holds it exclusively, because LMDB allows `mdb_env_set_mapsize` only
/// while no transaction of this process is open.
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init() {
        lock.initialize(to: pthread_rwlock_t())
        precondition(pthread_rwlock_init(lock, nil) == 0)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func withReadLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        precondition(pthread_rwlock_rdlock(lock) == 0)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func withWriteLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        precondition(pthread_rwlock_wrlock(lock) == 0)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
