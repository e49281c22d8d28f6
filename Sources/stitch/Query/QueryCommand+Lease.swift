import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Lease: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which tracking number to show a session (what the site's tracker asks).")

        @OptionGroup var connection: Connection

        @Argument(help: "The session identifier.")
        var session: String

        @Option(help: "Site number.")
        var site: UInt32

        func run() async throws {
            try await connection.withClient { client in
                let lease = try await connection.run { try await client.lease(site: site, session: session) }
                if connection.json {
                    try connection.printJSON(lease)
                    return
                }
                switch lease.kind {
                case .sticky, .new:
                    let how = lease.kind == .sticky ? "already this session's" : "newly leased"
                    print("\(lease.trackingNumber)  (\(how), held until \(Render.time(lease.heldUntilMs)))")
                case .fallback:
                    print("\(lease.trackingNumber.isEmpty ? "no number" : lease.trackingNumber)  (pool exhausted: fallback)")
                default:
                    print("site \(site) has no dynamic numbers")
                }
            }
        }
    }
}
