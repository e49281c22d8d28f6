import ArgumentParser
import Foundation
import StitchGraph
import StitchStore

/// `stitch carry --from OLD --to NEW`: what an export of events leaves behind,
/// set on a new store before the events are imported into it.
struct CarryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carry",
        abstract: "Carry quarantines, releases and the erasure suppression list from one store into a new one.",
        discussion: """
            A store moved to another shard layout is rebuilt from its exported events \
            (ops/reshard.sh); the events do not hold the operator's quarantines, which \
            identifiers were released from one (the automatic rule leaves those alone), or \
            the suppression list of erased identifiers. This copies them, each into the shard \
            of its site, into a store that holds no events yet — so the imported events \
            arrive to the same state: a quarantined identifier links nothing, an erased one \
            is refused. Quarantines made by the automatic rule or for declared junk are not \
            copied: the import and the configuration make them again. The erasure records \
            keep their time, counts and hash (person ids are the old store's).

            FROM is opened read-only; TO must be a store (its shards.json recorded, as a first \
            `stitch serve --set shards=N` leaves it) with no events, and no server may run on it.
            """)

    @Option(help: "The store to read.")
    var from: String

    @Option(help: "The new store to write (no events yet, no server running on it).")
    var to: String

    func run() throws {
        let old = try openStoreReadOnly(from)
        defer { old.close() }
        guard let layout = try ShardLayout.recorded(in: to) else {
            printToStandardError("\(to) is not a Stitch store yet: start `stitch serve --data-dir \(to)` once with its layout, stop it, then carry")
            throw ExitCode.failure
        }
        let new = try ShardedGraph(dataDirectory: to, layout: layout)
        defer { new.close() }
        var total = CarryReport()
        do {
            for shard in old.shards {
                total = total + (try new.adopt(try shard.carriedState(), nowMs: IdentityGraph.wallClockMs()))
            }
        } catch {
            printToStandardError("carrying \(from) into \(to) failed: \(error)")
            throw ExitCode.failure
        }
        print(
            "carried into \(to) (\(layout)): \(total.quarantines) quarantines, \(total.released) released identifiers, "
                + "\(total.erasures) erasure records, \(total.suppressions) suppressed identifiers")
    }
}
