import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Merges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The change feed: persons merged, split or erased since a cursor.")

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
                    let why = merge.reason == .unspecified ? "by event \(merge.causeEvent)" : "\(merge.reason)"
                    switch merge.kind {
                    case .split:
                        print("#\(merge.seq)  site \(merge.site)  person \(merge.winner) split, new persons \(merge.splitInto.map(String.init).joined(separator: ", "))  at \(Render.time(merge.timeMs))  \(why)")
                    case .erase:
                        print("#\(merge.seq)  site \(merge.site)  person \(merge.winner) erased  at \(Render.time(merge.timeMs))")
                    default:
                        print("#\(merge.seq)  site \(merge.site)  person \(merge.loser) → \(merge.winner)  at \(Render.time(merge.timeMs))  \(why)")
                    }
                }
                print("\(merges.merges.count) changes; next cursor \(merges.nextCursor)")
            }
        }
    }
}
