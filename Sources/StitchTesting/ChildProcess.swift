import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn` itself, for tests that start
/// many (`stitch` commands, servers, `curl`, `node`) from many threads at once.
///
/// Why not Foundation's `Process`: on Linux its `run()` emulates
/// close-on-exec by listing `/proc/self/fd`, and it copies each entry's whole
/// 256-byte `d_name` out of the directory buffer. With the test process holding
/// over a thousand descriptors, an entry at the end of that buffer made the
/// copy read past its page, and the whole test run died of a segfault inside
/// `Process.run()` (CI, 2026-12-06). Here the child closes every descriptor
/// above stderr itself (`posix_spawn_file_actions_addclosefrom_np`), and the
/// pipes are close-on-exec, so another thread's child does not keep their
/// write ends open.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `exitStatus` is guarded by `stateLock`, reaping by
    // `reapLock`; everything else is set once.

    /// Where a standard output or error goes.
    public enum Output: Sendable {
        /// `/dev/null`.
        case null
        /// A pipe whose read end `ChildProcess` keeps (`collect`).
        case pipe
        /// A file, created or appended to.
        case file(String)
    }

    /// The child's process id.
    public let pid: pid_t
    /// Read ends of the `.pipe` outputs.
    private let outRead: Int32?, errRead: Int32?
    /// Guards `exitStatus`; never held while blocked, so `signal` can stop a
    /// child another thread is waiting for.
    private let stateLock = NSLock()
    /// Held by the one thread in `waitpid` for this child.
    private let reapLock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` (a path; `/usr/bin/env NAME` finds NAME on PATH)
    /// with `arguments`, the test process's environment and `/dev/null` as
    /// its input.
    public init(_ executable: String, arguments: [String], stdout: Output = .null, stderr: Output = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        try Self.check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "stdin")
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        func route(_ output: Output, to target: Int32) throws -> Int32? {
            switch output {
            case .null:
                try Self.check(posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0), "output")
                return nil
            case .file(let path):
                try Self.check(posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o644), path)
                return nil
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { throw Self.error(errno, "pipe") }
                _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
                parentEnds.append(ends[0])
                childEnds.append(ends[1])
                // dup2 clears close-on-exec on the child's copy only.
                try Self.check(posix_spawn_file_actions_adddup2(&actions, ends[1], target), "dup2")
                return ends[0]
            }
        }
        do {
            outRead = try route(stdout, to: 1)
            errRead = try route(stderr, to: 2)
            guard let addCloseFrom = Self.addCloseFrom else {
                throw Self.error(ENOSYS, "posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or newer)")
            }
            try Self.check(addCloseFrom(&actions, 3), "closefrom")
        } catch {
            (parentEnds + childEnds).forEach { close($0) }
            throw error
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A child starts with default signal handling and an empty mask,
        // whatever the test process ignores or blocks (SIGPIPE, say).
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        childEnds.forEach { close($0) }
        guard status == 0 else {
            parentEnds.forEach { close($0) }
            throw Self.error(status, "posix_spawn \(executable)")
        }
        pid = child
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up
    /// at run time: the Glibc module leaves GNU extensions out.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }

    deinit {
        [outRead, errRead].compactMap { $0 }.forEach { close($0) }
    }

    /// Runs `executable` to its end and returns its status and both outputs.
    public static func run(_ executable: String, arguments: [String]) throws -> (status: Int32, out: Data, err: Data) {
        let child = try ChildProcess(executable, arguments: arguments, stdout: .pipe, stderr: .pipe)
        let (out, err) = child.collect()
        return (child.wait(), out, err)
    }

    /// Reads the `.pipe` outputs until the child closes them (both at once,
    /// so a child filling one while the other is read cannot stall).
    public func collect() -> (out: Data, err: Data) {
        var open = [outRead, errRead].map { $0 ?? -1 }
        var collected = [Data(), Data()]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 >= 0 }) {
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&polled, nfds_t(polled.count), -1) >= 0 else {
                if errno == EINTR { continue }
                break
            }
            for index in open.indices where open[index] >= 0 && polled[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(open[index], $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[index].append(contentsOf: buffer[..<count])
                } else if count == 0 || errno != EINTR {
                    open[index] = -1  // end of output (the descriptor is closed in deinit)
                }
            }
        }
        return (collected[0], collected[1])
    }

    /// Whether the child is still running (reaps it when it has exited).
    public var isRunning: Bool {
        if recorded() != nil { return false }
        guard reapLock.try() else { return true }  // another thread is waiting for it to exit
        defer { reapLock.unlock() }
        if recorded() != nil { return false }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return reaped == 0 }
        record(Self.decode(status))
        return false
    }

    /// Waits for the child to exit: its exit status, or the number of the
    /// signal that ended it (as Foundation's `terminationStatus`).
    @discardableResult
    public func wait() -> Int32 {
        reapLock.lock()
        defer { reapLock.unlock() }
        if let status = recorded() { return status }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let decoded = Self.decode(status)
        record(decoded)
        return decoded
    }

    /// Sends `number` to the child (nothing once it has been reaped, when
    /// its pid may be another process's).
    public func signal(_ number: Int32) {
        stateLock.lock()
        defer { stateLock.unlock() }
        if exitStatus == nil { kill(pid, number) }
    }

    private func recorded() -> Int32? {
        stateLock.lock()
        defer { stateLock.unlock() }
        return exitStatus
    }

    private func record(_ status: Int32) {
        stateLock.lock()
        exitStatus = status
        stateLock.unlock()
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }

    private static func check(_ status: Int32, _ what: String) throws {
        guard status == 0 else { throw error(status, what) }
    }

    private static func error(_ code: Int32, _ what: String) -> Error {
        NSError(domain: NSPOSIXErrorDomain, code: Int(code), userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(code)))"])
    }
}
