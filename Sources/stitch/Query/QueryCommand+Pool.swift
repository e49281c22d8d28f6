import ArgumentParser
import Foundation
import StitchWire

extension QueryCommand {
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
}
