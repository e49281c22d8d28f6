import ArgumentParser
import StitchGraph
import StitchStore

/// Opens a store read-only for an offline tool (verify, export), which may
/// run beside a live server; says why on stderr and exits 1 if it cannot.
func openStoreReadOnly(_ dataDir: String) throws -> IdentityGraph {
    do {
        return try IdentityGraph(path: dataDir, storeOptions: StoreOptions(readOnly: true))
    } catch {
        printToStandardError("cannot open the store in \(dataDir): \(error)")
        throw ExitCode.failure
    }
}
