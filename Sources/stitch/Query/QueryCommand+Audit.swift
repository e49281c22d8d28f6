import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The audit log: admin actions, oldest first (admin).",
            discussion: """
                Every pool_set, quarantine, unquarantine and forget, with its time, the token's name, its \
                arguments and its outcome; and the retention and token changes a start found in the \
                configuration (token name "config"). Identifiers appear as kind and keyed hash, never as \
                values. An entry whose outcome is "started" was interrupted: the action may or may not \
                have been applied. In cluster mode each node keeps its own log of what it applied.
                """)

        @OptionGroup var connection: Connection

        @Option(help: "Only this site's entries; 0 = every entry.")
        var site: UInt32 = 0

        @Option(help: "Entry sequence to start after (a page's last seq).")
        var after: UInt64 = 0

        @Option(help: "Entries per page (at most 1000).")
        var limit: UInt32 = 100

        func run() async throws {
            try await connection.withClient { client in
                let page = try await connection.run { try await client.audit(afterSeq: after, limit: limit, site: site) }
                if connection.json { return try connection.printJSON(page) }
                for entry in page.entries {
                    let arguments = entry.arguments.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                    let site = entry.site == 0 ? "" : "  site \(entry.site)"
                    print("#\(entry.seq)  \(Render.time(entry.timeMs))  \(entry.action)\(site)  by \(entry.tokenName)  \(arguments)  → \(entry.outcome)")
                }
                print("\(page.entries.count) entries; next: --after \(page.nextSeq == 0 ? after : page.nextSeq)")
            }
        }
    }
}
