import StitchIdentity
import StitchStore
import Synchronization

/// The durable identity graph (DESIGN.md §2–§4) on an LMDB environment.
///
/// Beacons are written through `apply`, one write transaction per batch,
/// from the server's writer; admin requests (quarantine, release, forget,
/// junk declarations) write from the query server's heavy pool. LMDB's write
/// lock serializes the two, and every write keeps the graph's invariants in
/// its own transaction. Reads (`lookup`, `history`, `merges`, …) run on read
/// transactions from any thread and never wait for a writer.
public final class IdentityGraph: Sendable {
    /// The LMDB environment the graph lives in. Not public: callers get what
    /// they need through the graph (`sync`, `storeInfo`), so no one outside
    /// can open a transaction the graph's invariants do not cover.
    let environment: Environment
    /// Junk rules and guards, per site.
    public let configuration: GraphConfiguration
    /// Number pools and lease allocators (DESIGN.md §5).
    public let callTracking: CallTracking
    let tables: Tables
    /// Session nodes that hold or held a lease: most sessions never see a
    /// tracking number, and this spares their events a lease lookup. Writes
    /// add to it before they commit (an aborted write leaves an extra entry:
    /// harmless, the lookup then finds no lease); `forget` removes its
    /// sessions only after its erasure committed, so no session with a
    /// lease is ever missing. Rebuilt at open.
    let leasedSessions: Mutex<Set<UInt64>>
    /// Keys erased identifiers in the suppression list (see `IdentifierHasher`).
    /// Hashes erased identifiers under the store's secret; replaced once by
    /// a cluster log's first entry, which gives every replica one secret.
    private let hasherBox: Mutex<IdentifierHasher>
    var hasher: IdentifierHasher { hasherBox.withLock { $0 } }
    /// What opening upgraded, when the store was of an earlier schema.
    public let migration: SchemaMigration.Report?
    /// What re-judging the automatic quarantines did at this open, when an
    /// upgrade asked for it (`rejudgeHubsIfPending`).
    public var hubRejudging: HubRejudging? { rejudged.withLock { $0 } }
    private let rejudged = Mutex<HubRejudging?>(nil)
    /// The `dedup` table indexed by (site, event id) (empty when read-only).
    let dedupMemory: DedupMemory
    let isReadOnly: Bool
    /// The open visits' index entries not yet in `event` (`IndexOverlay`).
    let writeBehind: IndexWriteBehind

    /// Bumped when the on-disk layout changes; `SchemaMigration` upgrades
    /// stores of earlier versions in place.
    public static let schemaVersion: UInt32 = 11
    static let schemaKey = Array("schema".utf8)

    struct Tables: Sendable {
        let ident, node, event, log, change, conflict, conflictByNode, meta, lease, leaseNumber, callWait, call, dedup: Table
        let quarantine, quarantineEvent, suppress, erasure, deal, eventJournal: Table
    }

    /// Opens the graph in `path`, creating an empty one there if needed.
    ///
    /// A writable open upgrades a store of an earlier schema in place (see
    /// `migration`).
    ///
    /// - Throws: `StoreError`, `GraphError.schemaMismatch` for a store this
    ///   build cannot read, or `GraphError.schemaNeedsMigration` for an older
    ///   store opened read-only.
    public init(
        path: String,
        configuration: GraphConfiguration = GraphConfiguration(),
        callTracking: CallTracking = CallTracking(),
        storeOptions: StoreOptions = StoreOptions()
    ) throws {
        environment = try Environment(path: path, tables: StoreKeys.allTables, options: storeOptions)
        if !environment.missingTables.isEmpty {
            // Read-only, and the store lacks a table: written before this
            // build added it (an upgrade adds it), or not a store at all.
            let found = try Self.storedSchema(environment)
            environment.close()
            if let found, found >= SchemaMigration.oldestMigratable && found < Self.schemaVersion {
                throw GraphError.schemaNeedsMigration(found: found, expected: Self.schemaVersion)
            }
            throw GraphError.schemaMismatch(found: found ?? 0, expected: Self.schemaVersion)
        }
        self.configuration = configuration
        self.callTracking = callTracking
        tables = Tables(
            ident: environment.table(StoreKeys.ident),
            node: environment.table(StoreKeys.node),
            event: environment.table(StoreKeys.event),
            log: environment.table(StoreKeys.log),
            change: environment.table(StoreKeys.change),
            conflict: environment.table(StoreKeys.conflict),
            conflictByNode: environment.table(StoreKeys.conflictByNode),
            meta: environment.table(StoreKeys.meta),
            lease: environment.table(StoreKeys.lease),
            leaseNumber: environment.table(StoreKeys.leaseNumber),
            callWait: environment.table(StoreKeys.callWait),
            call: environment.table(StoreKeys.call),
            dedup: environment.table(StoreKeys.dedup),
            quarantine: environment.table(StoreKeys.quarantine),
            quarantineEvent: environment.table(StoreKeys.quarantineEvent),
            suppress: environment.table(StoreKeys.suppress),
            erasure: environment.table(StoreKeys.erasure),
            deal: environment.table(StoreKeys.deal),
            eventJournal: environment.table(StoreKeys.eventJournal)
        )
        leasedSessions = Mutex([])
        migration = try Self.checkSchema(environment, tables: tables, readOnly: storeOptions.readOnly)
        isReadOnly = storeOptions.readOnly
        dedupMemory = storeOptions.readOnly ? DedupMemory() : try DedupMemory(environment, table: tables.dedup)
        hasherBox = Mutex(try Self.identifierHasher(environment, meta: tables.meta))
        let tables = self.tables
        writeBehind = IndexWriteBehind(
            generationEvents: storeOptions.readOnly ? 0 : configuration.indexWriteBehindEvents,
            loaded: try environment.read { txn in try IndexOverlay.load(meta: tables.meta, journal: tables.eventJournal, txn) })
        let sessions = try leaseHolders()
        leasedSessions.withLock { $0 = sessions }
        if !isReadOnly && !writeBehind.isOn {
            // Turned off: what an earlier run held goes to the index now.
            try writeDraining { _ in }
        }
        if !isReadOnly {
            let outcome = try rejudgeHubsIfPending()
            rejudged.withLock { $0 = outcome }
        }
    }

    /// Closes the store; the graph is unusable afterwards.
    public func close() {
        environment.close()
    }

    /// Takes a checkpoint of this store (`Environment.checkpoint()`; the
    /// server's periodic one in `nosync` and `log` modes). Returns the last
    /// group-log sequence the checkpoint holds: the log before it is no
    /// longer needed.
    @discardableResult
    public func checkpoint() throws -> UInt64 {
        // Read first: the checkpoint's snapshot is this one or a later one.
        let applied = try appliedLogSequence()
        try environment.checkpoint()
        return applied
    }

    /// Makes every commit so far durable; a checkpoint unless in `sync` mode
    /// (see `Environment.makeDurable`). For changes an operator is told are done.
    public func makeDurable() throws(StoreError) {
        try environment.makeDurable()
    }

    /// How many checkpoints this graph's store has taken (`Environment.checkpointCount`).
    public var checkpointCount: Int { environment.checkpointCount }

    /// The checkpoint this open restored because the machine had restarted
    /// since it was taken (its transaction id); nil when none was.
    public var restoredCheckpoint: UInt64? { environment.restoredCheckpoint }

    /// Copies the store into `directory` (see `Environment.copy`); `compact`
    /// leaves out freed pages, so nothing erased by `forget` remains.
    public func backup(to directory: String, compact: Bool) throws(StoreError) {
        try environment.copy(to: directory, compact: compact)
    }

    /// Sizes of the store and its map, for metrics and stats.
    public func storeInfo() -> Environment.Info {
        environment.info()
    }

    /// Frees reader slots of dead processes (see `Environment.clearStaleReaders`).
    public func clearStaleReaders() throws(StoreError) -> Int {
        try environment.clearStaleReaders()
    }

    /// Reader slots of dead processes freed when the store was opened.
    public var staleReadersCleared: Int {
        environment.staleReadersCleared
    }

    /// Readers since open whose snapshot was older than every overlay the
    /// write-behind keeps, so they rebuilt theirs from the snapshot's journal
    /// (`indexOverlay`): each such lookup takes tens of milliseconds.
    public var indexOverlayRebuilds: Int {
        writeBehind.rebuilds.load(ordering: .relaxed)
    }

    /// The schema recorded in a store's `meta` table; nil without one.
    private static func storedSchema(_ environment: Environment) throws -> UInt32? {
        guard !environment.missingTables.contains(StoreKeys.meta) else { return nil }
        let meta = environment.table(StoreKeys.meta)
        return try environment.read { txn in
            try txn.get(meta, Self.schemaKey).map { ByteCoding.littleEndian($0, at: 0, as: UInt32.self) }
        }
    }

    private static func checkSchema(_ environment: Environment, tables: Tables, readOnly: Bool) throws -> SchemaMigration.Report? {
        let meta = tables.meta
        let stored: UInt32? = try environment.read { txn in
            try txn.get(meta, Self.schemaKey).map { ByteCoding.littleEndian($0, at: 0, as: UInt32.self) }
        }
        switch stored {
        case Self.schemaVersion?:
            return nil
        case let found? where found >= SchemaMigration.oldestMigratable && found < Self.schemaVersion:
            if readOnly { throw GraphError.schemaNeedsMigration(found: found, expected: Self.schemaVersion) }
            return try environment.write { txn in try SchemaMigration.migrate(from: found, tables: tables, txn) }
        case let found?:
            throw GraphError.schemaMismatch(found: found, expected: Self.schemaVersion)
        case nil:
            if !readOnly {
                try environment.write { txn in
                    var bytes: [UInt8] = []
                    ByteCoding.appendLittleEndian(Self.schemaVersion, to: &bytes)
                    try txn.put(meta, Self.schemaKey, bytes)
                    try txn.put(meta, GraphCounters.key, GraphCounters().encoded())
                    try txn.put(meta, IdentifierHasher.secretMetaKey, IdentifierHasher.newSecret())
                }
            }
            return nil
        }
    }

    /// The store's secrets for hashing erased identifiers (none only in a
    /// store opened read-only before it was ever written).
    /// Reads the secrets again after a transaction replaced them.
    func reloadIdentifierHasher() throws {
        let fresh = try Self.identifierHasher(environment, meta: tables.meta)
        hasherBox.withLock { $0 = fresh }
    }

    private static func identifierHasher(_ environment: Environment, meta: Table) throws -> IdentifierHasher {
        try environment.read { txn in
            IdentifierHasher(
                secret: try txn.get(meta, IdentifierHasher.secretMetaKey).map { Array($0) } ?? [],
                carried: try txn.get(meta, IdentifierHasher.carriedSecretsMetaKey).map(IdentifierHasher.carried(decoding:)) ?? [])
        }
    }

    func counters(_ txn: borrowing Transaction) throws -> GraphCounters {
        guard let bytes = try txn.get(tables.meta, GraphCounters.key) else { return GraphCounters() }
        return GraphCounters(decoding: bytes)
    }
}

extension IdentityGraph: SiteJunkRules {
    /// Moves when a number pool changes (its office numbers are junk phones).
    public var junkGeneration: UInt64 { callTracking.generation }

    /// A site's junk rules: its configured ones plus its pool's office numbers.
    public func junkRules(site: UInt32) -> JunkRules {
        var junk = configuration.rules(for: site).junk
        junk.phones.formUnion(callTracking.pool(site: site).officeNumbers)
        return junk
    }
}

/// Failures of the graph that are not LMDB's.
public enum GraphError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The store was written with a schema version this build cannot read.
    case schemaMismatch(found: UInt32, expected: UInt32)
    /// An older store this build upgrades, opened read-only.
    case schemaNeedsMigration(found: UInt32, expected: UInt32)
    /// A person too large to repair or erase in one transaction.
    case personTooLarge(personID: UInt64, identifiersMax: Int)
    /// The identifier was erased; it cannot be quarantined or linked.
    case identifierErased
    /// State is carried only into a store that holds no events yet.
    case carryIntoStoreWithEvents(events: UInt64)

    public var description: String {
        switch self {
        case .schemaMismatch(let found, let expected):
            "store has schema version \(found); this build reads version \(expected) and upgrades versions \(SchemaMigration.oldestMigratable)...\(expected - 1)"
        case .schemaNeedsMigration(let found, let expected):
            "store has schema version \(found), which this build upgrades to \(expected) in place when it opens the store writable: run `stitch serve` on it once (back it up first with `stitch backup`)"
        case .personTooLarge(let personID, let identifiersMax):
            "person \(personID) is too large to repair in one transaction (over \(identifiersMax) identifiers or \(GraphLimits.repairEventsMax) events)"
        case .identifierErased:
            "the identifier was erased"
        case .carryIntoStoreWithEvents(let events):
            "the store already holds \(events) events: carry state into a new store before importing its events"
        }
    }
}
