import ArgumentParser
import Foundation
import StitchGraph
import StitchMapping
import StitchStore
import StitchWire
import SwiftProtobuf

/// `stitch export events|persons`: the store as NDJSON, one object per line.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a store's events or persons as NDJSON (one JSON object per line).",
        discussion: """
            events: one `stitch.v1.Beacon` per line in seq order, as accepted and with its \
            identifiers normalized: the format `stitch import` reads, so an export imported \
            into an empty store rebuilds the same persons.

            persons: one `stitch.v1.Person` per line (id, site, every identifier, first and \
            last seen, event counts).

            Opens the store read-only, one short read transaction per page, so it can run \
            beside a live server. JSON field names are the proto names (time_ms, landing_url).
            """
    )

    enum What: String, ExpressibleByArgument, CaseIterable {
        case events, persons
    }

    @Argument(help: "events or persons.")
    var what: What

    @Option(help: "The store's directory.")
    var dataDir = "./stitch-data"

    @Option(help: "Only this site (0 = every site).")
    var site: UInt32 = 0

    @Option(name: .shortAndLong, help: "Write here instead of standard output.")
    var output: String?

    static let pageSize = 1000

    func run() throws {
        let store = try openStoreReadOnly(dataDir)
        defer { store.close() }
        // A site lives in one shard; without --site every shard in turn.
        let graphs = site == 0 ? store.shards : [store.graph(site: site)]
        let sink = try LineSink(path: output)
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        var written = 0
        for graph in graphs {
            switch what {
            case .events: written += try exportEvents(of: graph, to: sink, options: options)
            case .persons: written += try exportPersons(of: graph, to: sink, options: options)
            }
        }
        try sink.close()
        printToStandardError("exported \(written) \(what.rawValue) from \(dataDir)")
    }

    /// Every stored event of one shard (of `site` when set), oldest first.
    private func exportEvents(of graph: IdentityGraph, to sink: LineSink, options: JSONEncodingOptions) throws -> Int {
        var written = 0
        var cursor: UInt64 = 0
        while true {
            let page = try graph.events(after: cursor, limit: Self.pageSize)
            for record in page {
                let beacon = Stitch_V1_Event(record).beacon
                guard site == 0 || beacon.site == site else { continue }
                try sink.write(try beacon.jsonString(options: options))
                written += 1
            }
            guard let last = page.last else { return written }
            cursor = last.seq
        }
    }

    /// Every person of one shard (of `site` when set).
    private func exportPersons(of graph: IdentityGraph, to sink: LineSink, options: JSONEncodingOptions) throws -> Int {
        var written = 0
        var cursor: UInt64 = 0
        while true {
            let page = try graph.persons(after: cursor, limit: Self.pageSize, site: site == 0 ? nil : site)
            for person in page {
                try sink.write(try Stitch_V1_Person(person).jsonString(options: options))
                written += 1
            }
            guard let last = page.last else { return written }
            cursor = last.personID
        }
    }
}

/// Buffered line output to a file or standard output.
final class LineSink {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(path: String?) throws {
        if let path, path != "-" {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ValidationError("cannot create \(path)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        } else {
            handle = FileHandle.standardOutput
        }
        buffer.reserveCapacity(1 << 16)
    }

    func write(_ line: String) throws {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func close() throws {
        try flush()
        if handle !== FileHandle.standardOutput { try handle.close() }
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
