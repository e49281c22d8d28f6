import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT between the ready file and the service group.
///
/// `stitch serve` writes its ready file once the ports are bound, and only
/// then runs the `ServiceGroup` that turns those signals into a graceful
/// shutdown. A signal in between met the default action and killed the
/// process uncleanly: a supervisor or test that stops a server the moment it
/// is ready (CI caught one). So a plain handler records the signal from
/// before the server starts, and a watch beside the group turns a recorded
/// one into the same graceful shutdown. Once the group listens for the
/// signals it takes them over, and the watch finds nothing.
enum EarlyStopSignals {
    /// The last signal the early handler caught, 0 for none.
    nonisolated(unsafe) static var caught: sig_atomic_t = 0

    /// Installs the recording handler for SIGTERM and SIGINT.
    static func install() {
        // A static is initialized on first use (swift_once, not safe in a
        // signal handler): use it here first, before the handler can run.
        caught = 0
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in EarlyStopSignals.caught = signal }
        sigemptyset(&action.sa_mask)
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
    }

    /// Runs `group` and, beside it, shuts it down gracefully if the early
    /// handler caught a signal (checked every 50 ms until the group ends).
    static func run(_ group: ServiceGroup, logger: Logger) async throws {
        // Each task says whether it was the group's run: only its end ends this.
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            tasks.addTask {
                while !Task.isCancelled {
                    if caught != 0 {
                        logger.info("signal \(caught) arrived while starting; shutting down gracefully")
                        await group.triggerGracefulShutdown()
                        return false
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
                return false
            }
            while let groupEnded = try await tasks.next() {
                if groupEnded { tasks.cancelAll() }
            }
        }
    }
}
