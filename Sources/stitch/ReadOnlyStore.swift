import ArgumentParser
import StitchGraph
import StitchStore

/// Opens every shard of a store read-only for an offline tool (verify,
/// export, backup), which may run beside a live server; says why on stderr
/// and exits 1 if it cannot.
func openStoreReadOnly(_ dataDir: String) throws -> ShardedGraph {
    do {
        guard let layout = try ShardLayout.recorded(in: dataDir) else {
            printToStandardError("cannot open the store in \(dataDir): there is no Stitch store there")
            throw ExitCode.failure
        }
        return try ShardedGraph(dataDirectory: dataDir, layout: layout, storeOptions: StoreOptions(readOnly: true))
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printToStandardError("cannot open the store in \(dataDir): \(error)")
        throw ExitCode.failure
    }
}
