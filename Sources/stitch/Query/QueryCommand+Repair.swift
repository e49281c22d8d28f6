import ArgumentParser
import Foundation
import StitchWire

extension QueryCommand {
    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quarantine a shared identifier: it links nothing, and its person is re-derived without it.",
            discussion: """
                Example: stitch query quarantine phone "+7 495 123-45-67" --site 7 --reason "reception desk". \
                Needs an admin token. The person holding it splits into the persons its events \
                make without it (split records in the change feed); an identifier not seen yet is \
                quarantined ahead of its arrival.
                """)

        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        @Option(help: "Why, for operators (kept with the quarantine; at most 200 bytes).")
        var reason = ""

        func run() async throws {
            let identifier = try target.identifier()
            try await connection.withClient { client in
                let answer = try await connection.run { try await client.quarantine(site: target.site, identifier: identifier, reason: reason) }
                if connection.json { return try connection.printJSON(answer) }
                print(answer.changed
                    ? "quarantined (node \(answer.identifierNode)); persons now: \(answer.personIds.map(String.init).joined(separator: ", ")); change feed up to \(answer.lastChangeSeq)"
                    : "already quarantined (node \(answer.identifierNode))")
            }
        }
    }

    struct Unquarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift a quarantine: the events that carried the identifier link it again.",
            discussion: "Needs an admin token. The automatic shared-identifier rule leaves a released identifier alone.")

        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        func run() async throws {
            let identifier = try target.identifier()
            try await connection.withClient { client in
                let answer = try await connection.run { try await client.unquarantine(site: target.site, identifier: identifier) }
                if connection.json { return try connection.printJSON(answer) }
                print(answer.changed
                    ? "released (node \(answer.identifierNode)); now in person \(answer.personIds.first ?? 0), \(answer.personsRepaired) merges"
                    : "not quarantined (node \(answer.identifierNode))")
            }
        }
    }

    struct Shared: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a site's quarantined identifiers: declared junk, manual, and found by the shared-identifier rule.")

        @OptionGroup var connection: Connection

        @Option(help: "Site number.")
        var site: UInt32

        @Option(help: "At most this many (10000 at most).")
        var limit: UInt32 = 1000

        func run() async throws {
            try await connection.withClient { client in
                let answer = try await connection.run { try await client.shared(site: site, limit: limit) }
                if connection.json { return try connection.printJSON(answer) }
                for entry in answer.identifiers {
                    let source = String(describing: entry.source).replacingOccurrences(of: "automatic", with: "automatic (\(entry.links) links)")
                    print("\(Render.kindName(entry.identifier.kind)) \(entry.identifier.value)  \(source)  since \(Render.time(entry.sinceMs))  \(entry.events) events  \(entry.reason)")
                }
                print("\(answer.identifiers.count) quarantined identifiers in site \(site)")
            }
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase the person holding an identifier (152-FZ / GDPR consent withdrawn).",
            discussion: """
                Needs an admin token. Erases the person's identifiers, events, leases and call records; \
                each identifier is kept only as a keyed hash so later beacons carrying it are not stored. \
                Prints what was erased (counts and the hash), never the values. Old data pages keep the \
                bytes until reused: `stitch backup --compact` writes a copy without them.
                """)

        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        func run() async throws {
            let identifier = try target.identifier()
            try await connection.withClient { client in
                let answer = try await connection.run { try await client.forget(site: target.site, identifier: identifier) }
                if connection.json { return try connection.printJSON(answer) }
                let hash = answer.identifierHash.map { String(format: "%02x", $0) }.joined()
                print("erasure #\(answer.erasureSeq) at \(Render.time(answer.timeMs)): person \(answer.personID), \(answer.identifiers) identifiers, \(answer.events) events, \(answer.leases) leases, \(answer.calls) calls; identifier hash \(hash)")
            }
        }
    }
}
