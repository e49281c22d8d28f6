import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Merges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The merge change feed: persons merged since a cursor.")

        @OptionGroup var connection: Connection

        @Option(help: "Site number; 0 = every site the token may read.")
        var site: UInt32 = 0

        @Option(help: "Merge sequence to start after.")
        var cursor: UInt64 = 0

        @Option(help: "Merges per page (at most 10000).")
        var limit: UInt32 = 100

        func run() async throws {
            try await connection.withClient { client in
                let merges = try await connection.run { try await client.mergesSince(site: site, cursor: cursor, limit: limit) }
                if connection.json {
                    try connection.printJSON(merges)
                    return
                }
                for merge in merges.merges {
                    print("#\(merge.seq)  site \(merge.site)  person \(merge.loser) → \(merge.winner)  at \(Render.time(merge.timeMs))  by event \(merge.causeEvent)")
                }
                print("\(merges.merges.count) merges; next cursor \(merges.nextCursor)")
            }
        }
    }
}
