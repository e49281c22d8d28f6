import Foundation
import Logging
import StitchGraph
import Synchronization

/// Retention (`retention_days`): on its own thread, every
/// `retention_pass_interval_ms`, erases persons with no activity for their
/// site's period, as `forget` does but without the suppression list.
///
/// Each run reads about `nodesPerShardMax` node records of each shard it
/// sweeps, going on where the last run stopped (from the start after a
/// restart or at the table's end), and erases at most `personsPerRunMax`
/// persons, one per write transaction: the work of one commit and of one
/// run stays bounded however large the store is. A full cycle over a shard
/// of N identifiers takes about N / 50,000 runs.
///
/// Each erasure is an `AdminChange.expire`, so in cluster mode it goes
/// through the partition's log and every replica erases the same person at
/// the same point; only the node granting the partition's leases sweeps it.
/// The change re-checks inactivity when applied, so a person active again
/// by then is kept.
final class RetentionPass: Sendable {
    static let nodesPerShardMax = 50_000
    static let personsPerRunMax = 200

    /// What one run did.
    struct Run: Equatable, Sendable {
        var nodesRead = 0
        var erased = 0
        /// Found inactive, then kept: active again, or gone, when applied.
        var kept = 0
        var failed = 0
    }

    typealias Perform = @Sendable (AdminChange) throws(QueryFailure) -> Void

    private let graph: ShardedGraph
    /// Days by site; key 0 for the sites not named.
    private let days: [UInt32: Int]
    /// Whether this node sweeps shard `index` (cluster mode: holds it and grants its leases).
    private let sweeps: @Sendable (Int) -> Bool
    private let perform: Perform
    private let logger: Logger
    private let clockMs: @Sendable () -> Int64
    private let ingestPriority: ThreadScheduling.IngestPriority
    private let ingestNice: Int
    /// Per shard, the node id the next run starts from.
    private let positions: Mutex<[UInt64]>
    private let stopped = NSCondition()
    private let state = Mutex<(running: Bool, finished: Bool)>((false, true))
    /// Set by `stop`: a run under way stops before its next erasure (in
    /// cluster mode each waits for the log), so shutdown does not wait for 200.
    private let stopRequested = Mutex(false)

    init(
        graph: ShardedGraph, days: [UInt32: Int], ingestPriority: ThreadScheduling.IngestPriority, ingestNice: Int, logger: Logger,
        clockMs: @escaping @Sendable () -> Int64, sweeps: @escaping @Sendable (Int) -> Bool, perform: @escaping Perform
    ) {
        self.graph = graph
        self.days = days
        self.ingestPriority = ingestPriority
        self.ingestNice = ingestNice
        self.logger = logger
        self.clockMs = clockMs
        self.sweeps = sweeps
        self.perform = perform
        positions = Mutex(Array(repeating: 0, count: graph.shards.count))
    }

    /// The cutoff of `site` at `nowMs`: persons last active before it are erased.
    func cutoffMs(site: UInt32, nowMs: Int64) -> Int64? {
        guard let days = days[site] ?? days[0] else { return nil }
        return nowMs - Int64(days) * 86_400_000
    }

    /// One run over every shard this node sweeps.
    @discardableResult
    func runOnce() -> Run {
        var run = Run()
        var listed = 0  // persons the scans found, against `personsPerRunMax`
        let nowMs = clockMs()
        for index in graph.shards.indices where sweeps(index) {
            let position = positions.withLock { $0[index] }
            let scan: IdentityGraph.InactiveScan
            do {
                scan = try graph.shards[index].inactivePersons(
                    from: position, nodesMax: Self.nodesPerShardMax, personsMax: Self.personsPerRunMax - listed
                ) { site in cutoffMs(site: site, nowMs: nowMs) }
            } catch {
                logger.warning("retention: reading shard \(index) failed: \(error)")
                run.failed += 1
                continue
            }
            positions.withLock { $0[index] = scan.next ?? 0 }
            run.nodesRead += scan.nodesRead
            listed += scan.persons.count
            for person in scan.persons {
                if stopRequested.withLock({ $0 }) { return run }
                do {
                    try perform(AdminChange(
                        site: person.site, kind: .expire(personID: person.personID, inactiveBeforeMs: person.cutoffMs),
                        tokenName: AdminChange.retentionTokenName))
                    run.erased += 1
                } catch let failure where failure.code == .notFound {
                    run.kept += 1
                } catch {
                    logger.warning("retention: erasing person \(person.personID) of site \(person.site) failed: \(error.message)")
                    run.failed += 1
                }
            }
        }
        if run.erased > 0 || run.failed > 0 {
            logger.notice("retention: erased \(run.erased) inactive persons (\(run.kept) kept, \(run.failed) failed; \(run.nodesRead) identifiers read)")
        }
        return run
    }

    /// Runs every `intervalMs` on a thread of its own, at the ingest
    /// threads' priority: its erasures are writes, which lookups go before.
    func start(intervalMs: Int) {
        state.withLock { $0 = (true, false) }
        let thread = Thread { [self] in
            defer { state.withLock { $0.finished = true } }
            ThreadScheduling.nameCurrentThread("stitch-retention")
            ThreadScheduling.applyToIngestThread(ingestPriority, nice: ingestNice)
            while true {
                stopped.lock()
                let deadline = Date(timeIntervalSinceNow: Double(intervalMs) / 1000)
                while state.withLock({ $0.running }) && stopped.wait(until: deadline) {}
                stopped.unlock()
                guard state.withLock({ $0.running }) else { return }
                runOnce()
            }
        }
        thread.start()
    }

    /// Stops the thread after the run under way, if any; returns once it ended.
    func stop() {
        stopRequested.withLock { $0 = true }
        state.withLock { $0.running = false }
        stopped.lock()
        stopped.broadcast()
        stopped.unlock()
        while !state.withLock({ $0.finished }) { usleep(1000) }
    }
}
