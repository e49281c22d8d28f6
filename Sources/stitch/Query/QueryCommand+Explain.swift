import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How identifier A is linked to identifier B, or why it is not.",
            discussion: """
                Example: stitch query explain cookie 1b2c3d4e5f phone "8 916 555-44-33" --site 7. \
                Prints the chain of events that links them, or "not linked", or the guard that \
                refused the link. Exit status 0 linked, 3 not linked or unknown.
                """)

        @OptionGroup var connection: Connection

        @Argument(help: "Kind of identifier A.") var kindA: String
        @Argument(help: "Value of identifier A.") var valueA: String
        @Argument(help: "Kind of identifier B.") var kindB: String
        @Argument(help: "Value of identifier B.") var valueB: String

        @Option(help: "Site number.")
        var site: UInt32

        @Option(help: "Namespace of A (chat provider, CRM) when A is a chat or crm_contact.")
        var namespaceA = ""

        @Option(help: "Namespace of B.")
        var namespaceB = ""

        func run() async throws {
            let a = try Render.identifier(kindA, valueA, namespace: namespaceA)
            let b = try Render.identifier(kindB, valueB, namespace: namespaceB)
            try await connection.withClient { client in
                let answer = try await connection.run { try await client.explain(site: site, a: a, b: b) }
                if connection.json {
                    try connection.printJSON(answer)
                } else {
                    print(Render.explain(answer, a: "\(kindA) \(valueA)", b: "\(kindB) \(valueB)"))
                }
                if answer.verdict != .linked { throw ExitCode(3) }
            }
        }
    }
}
