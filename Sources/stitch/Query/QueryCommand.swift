import ArgumentParser

/// `stitch query …`: a command-line client of the query protocol.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Ask a running Stitch server: lookup, history, explain, lease, pool, merges, stats, and repairs.",
        discussion: """
            Prints for people by default and the protocol's JSON with --json. Exit \
            status: 0 answered, 3 not found, 1 refused or unreachable.
            """,
        subcommands: [
            Lookup.self, History.self, Explain.self, Lease.self, Pool.self, Merges.self, Stats.self,
            Quarantine.self, Unquarantine.self, Shared.self, Forget.self, Audit.self,
        ]
    )
}
