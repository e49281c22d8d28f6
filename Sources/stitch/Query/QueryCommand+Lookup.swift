import ArgumentParser
import StitchWire

extension QueryCommand {
    struct Lookup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The person behind an identifier: id, identifiers, event counts.")

        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        @Flag(help: "Leave out the list of identifiers.")
        var summary = false

        func run() async throws {
            try await connection.withClient { client in
                let ref = try target.personRef()
                let body = try await connection.run {
                    try await client.request(.lookup(.with {
                        $0.site = target.site
                        $0.person = ref
                        $0.includeIdentifiers = !summary
                    }))
                }
                guard case .lookup(let lookup) = body else { throw ExitCode.failure }
                if connection.json {
                    try connection.printJSON(lookup)
                } else if lookup.found {
                    print(Render.person(lookup.person))
                } else {
                    print("not found: \(target.kind) '\(target.value)' in site \(target.site)")
                }
                if !lookup.found { throw ExitCode(3) }
            }
        }
    }
}
