import ArgumentParser
import StitchClient
import StitchWire
import SwiftProtobuf

extension QueryCommand {
    /// Where the server is and who we are; shared by every subcommand.
    struct Connection: ParsableArguments {
        @Option(help: "Query server address.")
        var server = "127.0.0.1:7071"

        @Option(help: "Query token (none is needed for a loopback server without tokens).")
        var token = ""

        @Flag(help: "Print the response as JSON (protobuf JSON mapping).")
        var json = false

        @Option(help: ArgumentHelp(
            "Cluster mode, or a single node with ack_after = log: answer only once the node has applied partition P's log through SEQ (an ack's log position; read-your-writes), else UNAVAILABLE.",
            valueName: "P:SEQ"))
        var minPosition: String?

        @OptionGroup var tls: TLSOptions

        func connect() async throws -> QueryClient {
            let (host, port) = try serverAddress(server, example: "127.0.0.1:7071")
            var position: Stitch_V1_LogPosition?
            if let minPosition {
                let parts = minPosition.split(separator: ":")
                guard parts.count == 2, let partition = UInt32(parts[0]), let sequence = UInt64(parts[1]) else {
                    throw ValidationError("--min-position takes PARTITION:SEQUENCE, e.g. 1:4821")
                }
                position = .with {
                    $0.partition = partition
                    $0.sequence = sequence
                }
            }
            return try await run {
                try await QueryClient.connect(host: host, port: port, token: token, clientName: "stitch-cli", minPosition: position, tls: tls.settings)
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
}
