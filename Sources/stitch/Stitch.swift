import ArgumentParser

/// The `stitch` command: one executable for the service and its tools.
@main
struct Stitch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitch",
        abstract: "Stitch: session and identity stitching for end-to-end marketing analytics.",
        discussion: """
            Stitch links the identifiers one person leaves across a site, calls, chats, \
            forms and a CRM (tracker cookie, session, GA/Yandex client id, phone, e-mail, \
            chat id, CRM contact) into one person with one history.

            This build has the identifier rules, the wire-format tools and the store \
            checker; the collector and query server (`serve`, `query`) arrive next.
            """,
        version: StitchVersion.current,
        subcommands: [NormalizeCommand.self, InspectCommand.self, VerifyCommand.self]
    )
}

/// The version printed by `stitch --version` and reported to query clients.
enum StitchVersion {
    static let current = "0.1.0"
}
