import ArgumentParser
import StitchGraph
import StitchStore

/// `stitch verify --data-dir DIR`: checks every invariant of a store.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every invariant of a Stitch store; exit 1 on any violation.",
        discussion: """
            Opens the store read-only (safe beside a running server: it checks one \
            consistent snapshot) and checks that every parent chain ends at a root \
            without a cycle, every person's ring holds exactly its members and its \
            counts match, every identifier maps to its node and back, every event's \
            anchor exists, the merge log agrees with the forest, and the counters \
            agree with the tables. Prints each check with how many items it covered.

            With --digest it also prints each shard's content digest (SHA-256 of every \
            table, leaving out how far a cluster replica applied the log) and that \
            position: two replicas that applied the same log print the same digests.
            """
    )

    @Option(help: "The store's directory.")
    var dataDir = "./stitch-data"

    @Flag(help: "Also print each shard's content digest and applied log position (cluster replicas compare these).")
    var digest = false

    func run() throws {
        let store = try openStoreReadOnly(dataDir)
        defer { store.close() }
        var violations = 0
        for (index, graph) in store.shards.enumerated() {
            // Each shard is a store of its own: its invariants hold within it.
            let shard = store.layout.count == 1 ? "" : "shard \(index): "
            let report = try GraphVerifier(graph: graph).verify()
            for check in report.checks {
                print("ok  \(shard)\(check.name): \(check.count)")
            }
            for violation in report.violations { print("VIOLATION  \(shard)\(violation)") }
            violations += report.violations.count
            if digest {
                print("digest  shard \(index): \(try graph.contentDigest()) (log applied through \(try graph.appliedLogSequence()))")
            }
        }
        guard violations == 0 else {
            printToStandardError("store in \(dataDir) violates \(violations) invariant(s)")
            throw ExitCode.failure
        }
        print("store in \(dataDir) (\(store.layout)) is sound")
    }
}
