import ArgumentParser
import StitchIdentity

/// `stitch normalize KIND VALUE`: shows what Stitch stores for a raw value.
struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Print the normalized form of an identifier value, or why it is rejected.",
        discussion: """
            Prints the normalized value and exits 0, or prints the reason to standard \
            error and exits 1. Stitch applies exactly these rules to every identifier \
            it receives.

            Kinds: \(IdentifierKind.allCases.map(\.name).joined(separator: ", ")).

            Examples:
              stitch normalize phone '8 (495) 123-45-67'      → +74951234567
              stitch normalize ga_client_id GA1.2.1234567890.1600000000
              stitch normalize chat 12345 --namespace jivo    → jivo:12345
            """
    )

    @Argument(help: "Identifier kind, e.g. phone, email, ga_client_id.", transform: parseKind)
    var kind: IdentifierKind

    @Argument(help: "The raw value, as a client would send it.")
    var value: String

    @Option(help: "Chat provider or CRM name for chat and crm_contact values.")
    var namespace: String?

    func run() throws {
        do {
            let normalized = try IdentifierNormalizer().normalize(kind, value, namespace: namespace)
            print(normalized.value)
        } catch {
            printToStandardError("rejected \(kind.name) value: \(error) [\(error.code)]")
            throw ExitCode.failure
        }
    }
}

private func parseKind(_ name: String) throws -> IdentifierKind {
    guard let kind = IdentifierKind(name: name) else {
        let names = IdentifierKind.allCases.map(\.name).joined(separator: ", ")
        throw ValidationError("unknown kind '\(name)'; expected one of: \(names)")
    }
    return kind
}
