import ArgumentParser
import StitchServer

/// The `stitch` command: one executable for the service and its tools.
@main
struct Stitch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitch",
        abstract: "Stitch: session and identity stitching for end-to-end marketing analytics.",
        discussion: """
            Stitch links the identifiers one person leaves across a site, calls, chats, \
            forms and a CRM (tracker cookie, session, GA/Yandex client id, phone, e-mail, \
            chat id, CRM contact) into one person with one history.

            `stitch serve` runs the service (beacons on UDP/TCP 7070, queries on 7071, \
            metrics on 7072); `stitch query` asks it; `stitch load` drives it with \
            synthetic traffic; the other commands are offline tools.
            """,
        version: StitchVersion.current,
        subcommands: [
            ServeCommand.self, QueryCommand.self, LoadCommand.self, ImportCommand.self, ExportCommand.self,
            NormalizeCommand.self, InspectCommand.self,
            VerifyCommand.self, BackupCommand.self, CarryCommand.self,
        ]
    )
}

/// The version printed by `stitch --version` and reported to query clients.
enum StitchVersion {
    static let current = ServerVersion.current
}
