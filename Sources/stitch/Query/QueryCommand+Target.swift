import ArgumentParser
import StitchIdentity
import StitchWire

extension QueryCommand {
    /// KIND VALUE naming a person.
    struct Target: ParsableArguments {
        @Argument(help: "Identifier kind (cookie, session, ga_client_id, ym_client_id, phone, email, chat, crm_contact, user_id) or person_id.")
        var kind: String

        @Argument(help: "The identifier as any source wrote it, or the person id.")
        var value: String

        @Option(help: "Site number.")
        var site: UInt32

        @Option(help: "Namespace of a chat or crm_contact id (chat provider, CRM name).")
        var namespace = ""

        func personRef() throws -> Stitch_V1_PersonRef {
            if kind == "person_id" || kind == "person" {
                guard let id = UInt64(value) else { throw ValidationError("a person id is a number") }
                return .with { $0.personID = id }
            }
            guard IdentifierKind(name: kind) != nil else {
                throw ValidationError("unknown kind '\(kind)'; one of \(IdentifierKind.allCases.map(\.name).joined(separator: ", ")), person_id")
            }
            let identifier = try Render.identifier(kind, value, namespace: namespace)
            return .with { $0.identifier = identifier }
        }

        /// The identifier itself, for requests that name one (quarantine, forget).
        func identifier() throws -> Stitch_V1_Identifier {
            guard kind != "person_id" && kind != "person" else {
                throw ValidationError("this request names an identifier (KIND VALUE), not a person id")
            }
            return try Render.identifier(kind, value, namespace: namespace)
        }
    }
}
