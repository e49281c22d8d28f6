import ArgumentParser
import Foundation
import StitchClient
import StitchIdentity
import StitchWire
import SwiftProtobuf

/// `stitch query …`: a command-line client of the query protocol.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Ask a running Stitch server: lookup, history, explain, lease, pool, merges, stats.",
        discussion: """
            Prints for people by default and the protocol's JSON with --json. Exit \
            status: 0 answered, 3 not found, 1 refused or unreachable.
            """,
        subcommands: [Lookup.self, History.self, Explain.self, Lease.self, Pool.self, Merges.self, Stats.self]
    )

    /// Where the server is and who we are; shared by every subcommand.
    struct Connection: ParsableArguments {
        @Option(help: "Query server address.")
        var server = "127.0.0.1:7071"

        @Option(help: "Query token (none is needed for a loopback server without tokens).")
        var token = ""

        @Flag(help: "Print the response as JSON (protobuf JSON mapping).")
        var json = false

        func connect() async throws -> QueryClient {
            let (host, port) = try serverAddress(server, example: "127.0.0.1:7071")
            return try await run {
                try await QueryClient.connect(host: host, port: port, token: token, clientName: "stitch-cli")
            }
        }

        /// Connects, runs `body`, and closes the connection before returning
        /// or throwing (a `defer` cannot await the close).
        func withClient<T>(_ body: (QueryClient) async throws -> T) async throws -> T {
            let client = try await connect()
            do {
                let result = try await body(client)
                await client.close()
                return result
            } catch {
                await client.close()
                throw error
            }
        }

        /// Runs a client call, turning client errors into one clear line.
        func run<T>(_ body: () async throws -> T) async throws -> T {
            do {
                return try await body()
            } catch let error as ClientError {
                printToStandardError("stitch query: \(error)")
                throw ExitCode.failure
            }
        }

        func printJSON(_ message: some SwiftProtobuf.Message) throws {
            var options = JSONEncodingOptions()
            options.alwaysPrintEnumsAsInts = false
            print(try message.jsonString(options: options))
        }
    }

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
    }

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
                        print(Render.history(history))
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

    struct Pool: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a site's number pool, or replace it (admin token).",
            discussion: """
                Without --set prints the pool. With --set FILE replaces it with the NumberPool in \
                FILE (protobuf JSON, e.g. {"dynamic_numbers": ["+74951000001"], "hold_seconds": 900, \
                "fallback_number": "+74951000009", "office_numbers": ["+74950000000"]}; "-" reads \
                standard input; {} removes the pool). The server keeps it in <data_dir>/pools.json.
                """)

        @OptionGroup var connection: Connection

        @Option(help: "Site number.")
        var site: UInt32

        @Option(name: .customLong("set"), help: "Replace the pool with the NumberPool JSON in this file.")
        var file: String?

        func run() async throws {
            var pool: Stitch_V1_NumberPool?
            if let file {
                let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
                guard let data else { throw ValidationError("cannot read \(file)") }
                do {
                    pool = try Stitch_V1_NumberPool(jsonUTF8Data: data)
                } catch {
                    throw ValidationError("\(file) is not a NumberPool in protobuf JSON: \(error)")
                }
            }
            try await connection.withClient { client in
                let answer = try await connection.run {
                    if let pool { try await client.setPool(site: site, pool) } else { try await client.pool(site: site) }
                }
                if connection.json {
                    try connection.printJSON(answer)
                    return
                }
                let wire = answer.pool
                print("site \(answer.site): \(wire.dynamicNumbers.count) dynamic numbers, \(answer.numbersHeld) held now, hold \(wire.holdSeconds) s")
                for number in wire.dynamicNumbers { print("  dynamic   \(number)") }
                if !wire.fallbackNumber.isEmpty { print("  fallback  \(wire.fallbackNumber)") }
                for entry in wire.staticNumbers {
                    print("  static    \(entry.number)  [\(entry.utmSource)/\(entry.utmMedium)/\(entry.utmCampaign)]")
                }
                for number in wire.officeNumbers { print("  office    \(number)") }
            }
        }
    }


    struct Merges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The merge change feed: persons merged since a cursor.")

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
                    print("#\(merge.seq)  site \(merge.site)  person \(merge.loser) → \(merge.winner)  at \(Render.time(merge.timeMs))  by event \(merge.causeEvent)")
                }
                print("\(merges.merges.count) merges; next cursor \(merges.nextCursor)")
            }
        }
    }

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
