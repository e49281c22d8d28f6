import ArgumentParser
import Foundation
import StitchGraph
import StitchServer

/// `stitch backup OUT`: a consistent copy of a store, beside a running server.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a Stitch store into a new directory, safely beside a running server.",
        discussion: """
            The copy is one consistent snapshot (one LMDB read transaction). With --compact it \
            is LMDB's compacting copy: only pages in use are written, so it is smaller and holds \
            none of the bytes of data deleted since — after `stitch query forget`, ship or keep \
            the compact copy and replace the store with it to leave no erased value on disk. \
            OUT must not exist or be an empty directory. The pools set through pool_set \
            (pools.json) and the audit log (audit/) are copied too.

            In cluster mode each shard's copy records the last log entry it applied: a new \
            replica started on the copy resumes the log from there (docs/cluster.md, \
            `ops/cluster.sh add-node`).
            """)

    @Option(help: "The store's directory.")
    var dataDir = "./stitch-data"

    @Flag(help: "Write only pages in use (drops freed pages and the erased data they held).")
    var compact = false

    @Argument(help: "Directory to write the copy into.")
    var out: String

    func run() throws {
        let files = FileManager.default
        if files.fileExists(atPath: out) {
            guard (try? files.contentsOfDirectory(atPath: out))?.isEmpty == true else {
                printToStandardError("\(out) exists and is not an empty directory")
                throw ExitCode.failure
            }
        } else {
            try files.createDirectory(atPath: out, withIntermediateDirectories: true)
        }
        let store = try openStoreReadOnly(dataDir)
        defer { store.close() }
        var bytes = 0
        var positions: [String] = []
        do {
            // Each shard is its own snapshot: shards commit independently, so
            // the copy is consistent per shard (and so per site).
            for (index, graph) in store.shards.enumerated() {
                let directory = ShardLayout.directory(of: index, in: out)
                try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
                // Read before the copy: the copy holds at least this much.
                let applied = try graph.appliedLogSequence()
                try graph.backup(to: directory, compact: compact)
                bytes += (try? files.attributesOfItem(atPath: directory + "/data.mdb")[.size] as? Int) ?? 0
                if applied > 0 { positions.append("partition \(index) through at least \(applied)") }
            }
            try store.layout.record(in: out)
            let pools = (dataDir as NSString).appendingPathComponent("pools.json")
            if files.fileExists(atPath: pools) {
                try files.copyItem(atPath: pools, toPath: (out as NSString).appendingPathComponent("pools.json"))
            }
            if AuditLog.exists(in: dataDir) {
                let audit = try AuditLog(dataDirectory: dataDir, readOnly: true)
                defer { audit.close() }
                try audit.backup(to: (out as NSString).appendingPathComponent(AuditLog.directoryName), compact: compact)
            }
        } catch {
            printToStandardError("backup of \(dataDir) into \(out) failed: \(error)")
            throw ExitCode.failure
        }
        print("copied \(dataDir) (\(store.layout)) into \(out)\(compact ? " (compact)" : ""): \(bytes) bytes\(positions.isEmpty ? "" : "; cluster log applied: " + positions.joined(separator: ", "))")
    }
}
