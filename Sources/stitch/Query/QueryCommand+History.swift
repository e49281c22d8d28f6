import ArgumentParser
import Foundation
import StitchClient
import StitchWire

extension QueryCommand {
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A person's events, oldest first by default.")

        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        @Option(help: "Events per page (1...1000).")
        var limit: UInt32 = 100

        @Option(help: "Only events at or after this time (ms since 1970).")
        var fromMs: Int64 = 0

        @Option(help: "Only events before this time (ms since 1970).")
        var toMs: Int64 = 0

        @Option(help: "Only these event types, comma-separated (visit,hit,number_shown,form,call,chat,deal).")
        var types = ""

        @Option(help: "Resume after a previous page (its printed cursor).")
        var cursor = ""

        @Flag(help: "Newest events first.")
        var newestFirst = false

        @Flag(help: "Annotate conversions (forms, calls, chats, deals): unique/target flags and credited sources.")
        var conversions = false

        @Flag(help: "Also show the device's own clock for events the tracker stamped (times are on the server's clock: proto/FRAMING.md, \"Event times\").")
        var deviceTimes = false

        @Option(help: "Attribution model: first_click, last_click, last_non_direct, linear, time_decay, position.")
        var model = "last_non_direct"

        @Option(help: "Visits older than this many days before a conversion do not count (0 = server default, 30).")
        var lookbackDays: Int64 = 0

        @Option(help: "Time decay half-life in days (0 = 7).")
        var halfLifeDays: Int64 = 0

        func run() async throws {
            var eventTypes: [Stitch_V1_EventType] = []
            for name in types.split(separator: ",") {
                guard let type = Render.eventType(named: String(name)) else {
                    throw ValidationError("unknown event type '\(name)'; one of \(Render.eventTypeNames.dropFirst().joined(separator: ","))")
                }
                eventTypes.append(type)
            }
            guard let cursorBytes = try? HexCoding.bytes(fromHex: cursor) else {
                throw ValidationError("--cursor takes the hex cursor a previous page printed")
            }
            guard let attributionModel = Render.attributionModels[model] else {
                throw ValidationError("unknown model '\(model)'; one of \(Render.attributionModels.keys.sorted().joined(separator: ", "))")
            }
            let person = try target.personRef()  // a bad kind is reported before connecting
            let request = Stitch_V1_HistoryRequest.with {
                $0.site = target.site
                $0.person = person
                $0.limit = limit
                $0.fromMs = fromMs
                $0.toMs = toMs
                $0.types = eventTypes
                $0.cursor = Data(cursorBytes)
                $0.newestFirst = newestFirst
                $0.conversions = conversions
                $0.model = attributionModel
                $0.lookbackMs = lookbackDays * 86_400_000
                $0.halfLifeMs = halfLifeDays * 86_400_000
            }
            try await connection.withClient { client in
                let response: Stitch_V1_Response = try await connection.run { try await client.response(.history(request)).get() }
                switch response.kind {
                case .history(let history):
                    if connection.json {
                        try connection.printJSON(history)
                    } else {
                        print(Render.history(history, deviceTimes: deviceTimes))
                    }
                case .error(let error) where error.code == .notFound:
                    print("not found: \(target.kind) '\(target.value)' in site \(target.site)")
                    throw ExitCode(3)
                case .error(let error):
                    printToStandardError("stitch query: \(ClientError.server(error))")
                    throw ExitCode.failure
                default:
                    throw ExitCode.failure
                }
            }
        }
    }
}
