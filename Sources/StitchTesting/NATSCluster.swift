import Foundation

/// nats-server processes with JetStream on loopback, for tests: one
/// server, or a JetStream cluster of several (routes between them), each on
/// ports the OS chose and a store under a temporary directory. Uses
/// Debian's nats-server, or `NATS_SERVER_BINARY` when set (`ops/test.sh`
/// installs one).
public final class NATSCluster: @unchecked Sendable {
    /// One server of the cluster.
    public struct Node: Sendable {
        public let name: String
        public let port: Int
        public let clusterPort: Int
        public var url: String { "nats://127.0.0.1:\(port)" }
    }

    public let nodes: [Node]
    public let directory: URL
    private var processes: [ChildProcess?]
    /// Arguments every server gets besides its own (auth, TLS).
    private let extraArguments: [String]

    /// Every server's client URL, comma-separated (what a Stitch node is given).
    public var urls: String { nodes.map(\.url).joined(separator: ",") }

    /// Starts `count` servers; with more than one, they form a JetStream
    /// cluster. `extraArguments` go to every server (e.g. `--user`, `--tls`).
    public init(count: Int = 1, extraArguments: [String] = []) throws {
        self.extraArguments = extraArguments
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        nodes = try (0..<count).map { index in
            Node(name: "n\(index + 1)", port: try LoopbackPort.free(), clusterPort: try LoopbackPort.free())
        }
        processes = Array(repeating: nil, count: count)
        for index in nodes.indices { try start(index) }
    }

    deinit { stop() }

    /// The server binary tests use.
    public static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["NATS_SERVER_BINARY"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        guard let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "nats-server not found: run ops/test.sh, which installs it"])
        }
        return found
    }

    /// Starts (or restarts) server `index` with its store as it was.
    public func start(_ index: Int) throws {
        let node = nodes[index]
        let binary = try Self.binary()
        var arguments = [
            "-js", "-a", "127.0.0.1", "-p", "\(node.port)", "-n", node.name,
            "-sd", directory.appendingPathComponent(node.name).path,
        ]
        if nodes.count > 1 {
            let routes = nodes.filter { $0.name != node.name }.map { "nats://127.0.0.1:\($0.clusterPort)" }.joined(separator: ",")
            arguments += ["--cluster_name", "stitch", "--cluster", "nats://127.0.0.1:\(node.clusterPort)", "--routes", routes]
        }
        processes[index] = try ChildProcess(binary, arguments: arguments + extraArguments)
    }

    /// SIGKILLs server `index` (no goodbye to its peers).
    public func kill(_ index: Int) {
        guard let process = processes[index], process.isRunning else { return }
        process.signal(SIGKILL)
        process.wait()
        processes[index] = nil
    }

    /// Stops every server and removes their stores.
    public func stop() {
        for index in processes.indices {
            guard let process = processes[index], process.isRunning else { continue }
            process.signal(SIGTERM)
            for _ in 0..<100 where process.isRunning { usleep(20_000) }
            if process.isRunning { process.signal(SIGKILL) }
            process.wait()
            processes[index] = nil
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
