import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StitchGraph
import StitchServer

/// `stitch serve`: runs the collector, the writer and the query server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Stitch service: beacon collector, identity graph writer, query server, metrics.",
        discussion: """
            Defaults work on a fresh machine: data in ./stitch-data, beacons on UDP and \
            TCP 127.0.0.1:7070, queries on TCP 7071, HTTP /metrics, /healthz, the JSON API \
            and the profile explorer (/explorer/) on 7072.

            Settings, later sources winning: built-in defaults < --config FILE (JSON \
            object, see ops/stitch.example.json) < environment STITCH_<NAME> < flags \
            (including --set name=value). Every setting:

            \(ConfigurationKey.all.map { "  \($0.name.padding(toLength: max(25, $0.name.count), withPad: " ", startingAt: 0)) \($0.help)" }.joined(separator: "\n"))

            SIGTERM or SIGINT stops accepting, drains the queue, commits, sends the last \
            acks, closes the store and exits 0. After a crash or SIGKILL the next start \
            opens the store as it was at the last commit; `stitch verify` checks it.
            """
    )

    @Option(name: .customLong("config"), help: "JSON config file.")
    var configFile: String?

    @Option(help: "Directory of the store (data_dir).")
    var dataDir: String?

    @Option(help: "Address of the public listeners, ingest and intake (host).")
    var host: String?

    @Option(help: "Beacon port, UDP and TCP; 0 lets the OS choose (ingest_port).")
    var ingestPort: Int?

    @Option(help: "Query port; 0 lets the OS choose (query_port).")
    var queryPort: Int?

    @Option(help: "HTTP metrics port; 0 lets the OS choose (http_port).")
    var httpPort: Int?

    @Option(help: "Public HTTP intake port (beacons from browsers, frames over HTTP, leases); 0 lets the OS choose (intake_port).")
    var intakePort: Int?

    @Option(help: "sync (fsync per group commit, default), log (acks once the group is in the group log; the store is checkpointed) or nosync (acks on apply; checkpointed); see docs/configuration.md.")
    var durability: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Any setting, as name=value; repeatable.", valueName: "name=value"))
    var assignments: [String] = []

    @Option(help: "Once listening, write the bound ports here as JSON (for scripts and tests).")
    var readyFile: String?

    @Flag(help: "Stop, as on SIGTERM, once the process that started this one exits (for test harnesses and scripts that may die without stopping their servers).")
    var exitWithParent = false

    @Flag(help: "Print the resolved settings and exit.")
    var printConfig = false

    @Flag(help: "Print every setting with its default as a Markdown table (docs/configuration.md) and exit.")
    var settingsReference = false

    @Flag(help: "Print every metric /metrics exposes as a Markdown table (docs/metrics.md) and exit.")
    var metricsReference = false

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try resolveConfiguration()
        } catch {
            printToStandardError("stitch serve: \(error)")
            throw ExitCode(2)
        }
        if settingsReference || metricsReference {
            print(settingsReference ? Self.settingsTable() : Self.metricsTable())
            return
        }
        if printConfig {
            for key in ConfigurationKey.all { print("\(key.name) = \(key.value(in: configuration))") }
            return
        }
        LoggingSystem.bootstrap { label in
            let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
            switch configuration.logFormat {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "stitch")
        // From here a SIGTERM or SIGINT stops the server gracefully, even one
        // that comes before the service group listens for it.
        EarlyStopSignals.install()
        // Before the ready file: once a starter sees it, the watch runs.
        if exitWithParent { ParentWatch.start(logger: logger) }
        let server = StitchServer(configuration: configuration, logger: logger)
        let ports: StitchServer.BoundPorts
        do {
            ports = try await server.start()
        } catch let error as ShardLayoutError {
            // The settings disagree with the store: a configuration error, like a bad value.
            printToStandardError("stitch serve: \(error)")
            throw ExitCode(2)
        } catch {
            printToStandardError("stitch serve: cannot start: \(error)")
            throw ExitCode.failure
        }
        if let readyFile {
            let json = try JSONEncoder().encode(ports)
            try json.write(to: URL(fileURLWithPath: readyFile), options: .atomic)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await EarlyStopSignals.run(group, logger: logger)
    }

    /// Every setting: name, built-in default and meaning, as a Markdown table.
    static func settingsTable() -> String {
        let defaults = ServerConfiguration()
        let cell = { (text: String) in text.replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["| setting | default | meaning |", "|---|---|---|"]
        for key in ConfigurationKey.all {
            let value = key.value(in: defaults)
            lines.append("| `\(key.name)` | \(value.isEmpty ? "—" : "`" + cell(value) + "`") | \(cell(key.help)) |")
        }
        return lines.joined(separator: "\n")
    }

    /// Every metric: name, labels and meaning, as a Markdown table.
    static func metricsTable() -> String {
        var lines = ["| metric | labels | meaning |", "|---|---|---|"]
        for metric in MetricName.allCases {
            let labels = metric.labels.isEmpty ? "—" : metric.labels.map { "`\($0)`" }.joined(separator: ", ")
            lines.append("| `\(metric.name)` | \(labels) | \(metric.help.replacingOccurrences(of: "|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n")
    }

    private func resolveConfiguration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let configFile { try ConfigurationKey.applyFile(configFile, to: &configuration) }
        try ConfigurationKey.applyEnvironment(ProcessInfo.processInfo.environment, to: &configuration)
        let flags: [(String, String?)] = [
            ("data_dir", dataDir), ("host", host), ("ingest_port", ingestPort.map(String.init)),
            ("query_port", queryPort.map(String.init)), ("http_port", httpPort.map(String.init)),
            ("intake_port", intakePort.map(String.init)), ("durability", durability),
        ]
        for case (let name, let value?) in flags {
            try ConfigurationKey.applyAssignment("\(name)=\(value)", to: &configuration)
        }
        for assignment in assignments { try ConfigurationKey.applyAssignment(assignment, to: &configuration) }
        try configuration.validate()
        return configuration
    }
}
