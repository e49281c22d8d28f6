import ArgumentParser
import Foundation
import NIOCore
import StitchClient
import StitchWire
import SwiftProtobuf

/// `stitch import FILE|-`: backfill beacons from NDJSON through a running
/// server's collector (TCP, acked), so they take the same path as live ones.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Backfill beacons from NDJSON (one stitch.v1.Beacon per line) into a running server.",
        discussion: """
            Each line is the protobuf JSON form of a Beacon (beacon.proto; proto or \
            lowerCamel field names, enums by name or number, int64 as number or string), \
            e.g. {"site": 1, "time_ms": 1767225600000, "identifiers": [{"kind": \
            "IDENTIFIER_KIND_COOKIE", "value": "ck-7f3a9b2c"}], "hit": {"url": "https://a.example/"}}. \
            The README shows a line of every body type; `stitch export events` writes this format.

            Importing is exactly once: a line with an `event_id` keeps it, and a line \
            without one is given an id derived from its content (the beacon's bytes), so \
            importing the same file again, or resuming an interrupted import from the top, \
            stores nothing twice. The server recognises an id for its `dedup_window_ms` \
            (7 days) of arrival, whatever the event's time. Two lines that are the same \
            beacon to the byte are one event; --no-derived-ids stores every line without \
            an id as given.

            A line that fails (bad JSON, unknown field, a limit of FRAMING.md, or refused \
            by the server) is reported with its number and reason and does not stop the \
            rest. The summary says how many lines were imported, how many were repeats \
            (already stored) and how many were rejected; the exit status is 0 when no line \
            was rejected, 1 when some were, 2 when the server could not be reached.
            """
    )

    @Argument(help: "NDJSON file, or - for standard input.")
    var file: String

    @Option(help: "Collector address (TCP).")
    var server = "127.0.0.1:7070"

    @Option(help: "Beacons per batch.")
    var batch = 500

    @Option(help: "Unacknowledged batches at most.")
    var window = 16

    @Option(help: "Print at most this many rejected lines (all are counted).")
    var reportMax = 100

    @Flag(help: "Send lines without an event_id as they are, without an id derived from their content (a second import stores them again).")
    var noDerivedIds = false

    @OptionGroup var tls: TLSOptions

    func validate() throws {
        guard (1...4096).contains(batch) else { throw ValidationError("--batch is 1...4096") }
        guard window >= 1 else { throw ValidationError("--window is at least 1") }
    }

    func run() async throws {
        let (host, port) = try serverAddress(server, example: "127.0.0.1:7070")
        let client: IngestClient
        do {
            client = try await IngestClient.connect(host: host, port: port, tls: tls.settings)
        } catch {
            printToStandardError("stitch import: \(error)")
            throw ExitCode(2)
        }
        var report = Report(reportMax: reportMax)
        let validator = BeaconValidator()
        var pending: [(lines: [Int], reply: EventLoopFuture<IngestReply>)] = []
        var beacons: [Stitch_V1_Beacon] = []
        var lines: [Int] = []
        var sequence: UInt64 = 0
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false

        func send() async {
            guard !beacons.isEmpty else { return }
            sequence += 1
            pending.append((lines, client.send(beacons, sequence: sequence)))
            beacons.removeAll(keepingCapacity: true)
            lines.removeAll(keepingCapacity: true)
            if pending.count >= window { await report.settle(pending.removeFirst()) }
        }

        let reader = try LineReader(path: file)
        var number = 0
        while let line = reader.next() {
            number += 1
            if line.allSatisfy(\.isWhitespace) { continue }
            var beacon: Stitch_V1_Beacon
            do {
                beacon = try Stitch_V1_Beacon(jsonString: line, options: options)
            } catch {
                report.reject(line: number, "not a Beacon in JSON: \(error)")
                continue
            }
            if let (reason, detail) = validator.problem(in: beacon) {
                report.reject(line: number, "\(reason.rawValue): \(detail)")
                continue
            }
            if beacon.eventID == 0 && !noDerivedIds { beacon.eventID = ContentEventID.of(beacon) }
            beacons.append(beacon)
            lines.append(number)
            if beacons.count >= batch { await send() }
        }
        await send()
        for entry in pending { await report.settle(entry) }
        await client.close()
        let total = report.imported + report.repeated + report.rejected
        print("imported \(report.imported), repeats \(report.repeated) (already stored), rejected \(report.rejected) of \(total) lines from \(file)")
        if report.rejected > 0 { throw ExitCode.failure }
    }

    /// Counts and the rejected lines, printed as they are found.
    struct Report {
        let reportMax: Int
        var imported = 0
        /// Lines the server already held (same site and event id): not stored again.
        var repeated = 0
        var rejected = 0

        mutating func reject(line: Int, _ reason: String) {
            rejected += 1
            if rejected <= reportMax { printToStandardError("line \(line): \(reason)") }
            if rejected == reportMax + 1 { printToStandardError("… (further rejected lines are counted, not printed)") }
        }

        /// Waits for one batch's answer and accounts for each of its lines.
        mutating func settle(_ entry: (lines: [Int], reply: EventLoopFuture<IngestReply>)) async {
            do {
                switch try await entry.reply.get() {
                case .ack(let ack):
                    let refused = Dictionary(ack.rejections.map { (Int($0.index), $0) }, uniquingKeysWith: { a, _ in a })
                    let repeats = Set(ack.repeatIndexes.map(Int.init))
                    for (index, line) in entry.lines.enumerated() {
                        if let rejection = refused[index] {
                            reject(line: line, "refused by the server: \(rejection.reason): \(rejection.detail)")
                        } else if repeats.contains(index) {
                            repeated += 1
                        } else {
                            imported += 1
                        }
                    }
                case .refused(let error):
                    for line in entry.lines { reject(line: line, "batch refused by the server: \(error.code): \(error.message)") }
                }
            } catch {
                for line in entry.lines { reject(line: line, "not acknowledged: \(error)") }
            }
        }
    }
}

/// Reads a file (or standard input) line by line without loading it whole.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let closeAtEnd: Bool
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    init(path: String) throws {
        if path == "-" {
            file = fdopen(0, "r")  // a FILE of its own on descriptor 0, not the shared `stdin`
            closeAtEnd = false
        } else {
            guard let opened = fopen(path, "r") else { throw ValidationError("cannot open \(path)") }
            file = opened
            closeAtEnd = true
        }
    }

    deinit {
        free(buffer)
        if closeAtEnd { fclose(file) }
    }

    /// The next line without its newline, or nil at the end.
    func next() -> String? {
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        var length = count
        if length > 0 && buffer[length - 1] == 0x0A { length -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
