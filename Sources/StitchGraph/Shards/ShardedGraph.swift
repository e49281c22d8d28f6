import StitchIdentity
import StitchStore

/// The store as the server sees it: one `IdentityGraph` per shard (each its
/// own LMDB environment, so each has its own write lock, commits and fsyncs),
/// with every site in exactly one of them (`ShardLayout`).
///
/// Everything about one site goes to `graph(site:)`; totals, sizes and
/// housekeeping cover every shard. The shards share one `CallTracking` (pools
/// and lease allocators are per site already) and one `GraphConfiguration`.
public final class ShardedGraph: Sendable {
    public let layout: ShardLayout
    /// The shards, by index.
    public let shards: [IdentityGraph]

    /// Opens (creating what is missing) every shard of `layout` in `dataDirectory`.
    public init(
        dataDirectory: String,
        layout: ShardLayout,
        configuration: GraphConfiguration = GraphConfiguration(),
        callTracking: CallTracking = CallTracking(),
        storeOptions: StoreOptions = StoreOptions()
    ) throws {
        self.layout = layout
        var opened: [IdentityGraph] = []
        do {
            for index in 0..<layout.count {
                opened.append(try IdentityGraph(
                    path: ShardLayout.directory(of: index, in: dataDirectory), configuration: configuration,
                    callTracking: callTracking, storeOptions: storeOptions))
            }
        } catch {
            for graph in opened { graph.close() }
            throw error
        }
        shards = opened
    }

    /// The one shard of a one-shard store; nil when there are several (then
    /// a question about every site, like the change feed, has one answer per shard).
    public var onlyShard: IdentityGraph? {
        shards.count == 1 ? shards[0] : nil
    }

    /// The shard holding `site`.
    @inline(__always)
    public func graph(site: UInt32) -> IdentityGraph {
        shards[layout.shard(of: site)]
    }

    public var configuration: GraphConfiguration { shards[0].configuration }
    public var callTracking: CallTracking { shards[0].callTracking }

    /// Totals summed over the shards.
    public func totals() throws -> IdentityGraph.Totals {
        var sum = IdentityGraph.Totals(persons: 0, identifiers: 0, events: 0, unlinkedEvents: 0, merges: 0, conflicts: 0)
        for shard in shards {
            let totals = try shard.totals()
            sum.persons += totals.persons
            sum.identifiers += totals.identifiers
            sum.events += totals.events
            sum.unlinkedEvents += totals.unlinkedEvents
            sum.merges += totals.merges
            sum.conflicts += totals.conflicts
        }
        return sum
    }

    /// Map and used bytes summed over the shards (readers: the most any uses).
    public func storeInfo() -> Environment.Info {
        var sum = shards[0].storeInfo()
        for shard in shards.dropFirst() {
            let info = shard.storeInfo()
            sum.mapBytes += info.mapBytes
            sum.usedBytes += info.usedBytes
            sum.readersUsed = max(sum.readersUsed, info.readersUsed)
        }
        return sum
    }

    /// Leases still held at `nowMs`, from every shard.
    public func leaseActivity(heldAt nowMs: Int64) throws -> [LeaseActivity] {
        try shards.flatMap { try $0.leaseActivity(heldAt: nowMs) }
    }

    /// Frees reader slots of dead processes in every shard.
    public func clearStaleReaders() throws(StoreError) -> Int {
        var cleared = 0
        for shard in shards { cleared += try shard.clearStaleReaders() }
        return cleared
    }

    public var staleReadersCleared: Int { shards.reduce(0) { $0 + $1.staleReadersCleared } }

    /// Readers, in every shard since open, that rebuilt their write-behind
    /// overlay from their snapshot (`IdentityGraph.indexOverlayRebuilds`).
    public var indexOverlayRebuilds: Int { shards.reduce(0) { $0 + $1.indexOverlayRebuilds } }

    /// The shards upgraded from an earlier schema when opened, by index.
    public var migrations: [(shard: Int, report: SchemaMigration.Report)] {
        shards.indices.compactMap { index in shards[index].migration.map { (index, $0) } }
    }

    /// Each shard whose automatic quarantines were re-judged at this open.
    public var hubRejudgings: [(shard: Int, outcome: HubRejudging)] {
        shards.indices.compactMap { index in shards[index].hubRejudging.map { (index, $0) } }
    }

    /// Takes a checkpoint of every shard (`nosync` and `log` modes' periodic
    /// one); returns each shard's last group-log sequence it holds.
    public func checkpoint() throws -> [UInt64] {
        try shards.map { try $0.checkpoint() }
    }

    public func close() {
        for shard in shards { shard.close() }
    }
}

extension ShardedGraph: SiteJunkRules {
    public var junkGeneration: UInt64 { callTracking.generation }

    public func junkRules(site: UInt32) -> JunkRules {
        graph(site: site).junkRules(site: site)
    }
}
