import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store totals and the server's counters (admin).")

        @OptionGroup var connection: Connection

        func run() async throws {
            try await connection.withClient { client in
                let stats = try await connection.run { try await client.stats() }
                if connection.json {
                    try connection.printJSON(stats)
                    return
                }
                print("persons      \(stats.persons)")
                print("identifiers  \(stats.identifiers)")
                print("events       \(stats.events)")
                print("merges       \(stats.merges)")
                print("store        \(Render.bytes(stats.storeBytes)) of a \(Render.bytes(stats.mapBytes)) map")
                for counter in stats.counters { print("\(counter.name) \(counter.value)") }
            }
        }
    }
}
