import ArgumentParser
import Foundation
import StitchGraph

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
            OUT must not exist or be an empty directory.
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
        let graph = try openStoreReadOnly(dataDir)
        defer { graph.close() }
        do {
            try graph.backup(to: out, compact: compact)
        } catch {
            printToStandardError("backup of \(dataDir) into \(out) failed: \(error)")
            throw ExitCode.failure
        }
        let bytes = (try? files.attributesOfItem(atPath: out + "/data.mdb")[.size] as? Int) ?? 0
        print("copied \(dataDir) into \(out)\(compact ? " (compact)" : ""): \(bytes) bytes")
    }
}
