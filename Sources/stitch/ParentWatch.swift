import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `stitch serve --exit-with-parent`: stops the server (as SIGTERM does)
/// once the process that started it has exited.
///
/// For test harnesses and scripts that start servers: when one of them dies
/// without cleaning up (a crashed test process, a SIGKILLed script), its
/// servers would otherwise run on, holding ports, stores and memory, until
/// someone finds them. A child is reparented when its parent exits, so
/// `getppid()` changing is the sign. Polled five times a second: a pidfd
/// would wake at once, but a stop this rare needs no promptness.
enum ParentWatch {
    static let pollInterval: TimeInterval = 0.2

    /// Starts the watch on a thread of its own (it only sleeps).
    static func start(logger: Logger) {
        let parent = getppid()
        let thread = Thread {
            while getppid() == parent {
                Thread.sleep(forTimeInterval: pollInterval)
            }
            logger.warning("the process that started this server (pid \(parent)) has exited; stopping as on SIGTERM (--exit-with-parent)")
            kill(getpid(), SIGTERM)
        }
        thread.name = "parent-watch"
        thread.start()
    }
}
