import Foundation
import Logging
import StitchBeacon
import StitchGraph
@testable import StitchServer
import StitchStore
import StitchTesting
import StitchWire
import Testing

/// A store leaving `durability = log`: its group log is replayed, removed,
/// and its sequence forgotten — a cluster replica would read that sequence
/// as its place in the cluster's log — and cluster mode refuses a store
/// that still holds a group log, even one a crash left half removed.
@Suite struct GroupLogSwitchTests {
    static let logger = Logger(label: "stitch-test")

    static func open(_ directory: String, _ durability: StoreOptions.Durability) throws -> ShardedGraph {
        try ShardedGraph(
            dataDirectory: directory, layout: ShardLayout(count: 1, sites: [:]),
            storeOptions: StoreOptions(mapBytes: 64 << 20, durability: durability))
    }

    /// Applies beacons with event ids `ids` through the log, as the writer does.
    static func ingest(_ graph: ShardedGraph, logs: ShardGroupLogs, ids: ClosedRange<Int>) throws {
        var preparer = EventPreparer(rules: graph.shards[0])
        let events = ids.map { index in
            preparer.prepare(
                Stitch_V1_Beacon.with {
                    $0.site = 1
                    $0.timeMs = 1_767_225_600_000 + Int64(index)
                    $0.eventID = UInt64(index)
                    $0.identifiers = [.with { $0.kind = .cookie; $0.value = "cookie-switch-\(index)" }]
                    $0.hit = .init()
                }, receivedMs: 1_767_225_600_000)
        }
        _ = try logs.apply(events, renewals: [], nowMs: 1_767_225_600_000, shard: 0, graph: graph.shards[0])
    }

    /// A run in `log` mode that applies one logged group per range of
    /// event ids, then stops.
    static func runInLogMode(_ data: String, groups: [ClosedRange<Int>]) throws {
        let graph = try open(data, .log)
        defer { graph.close() }
        let logs = try #require(try ShardGroupLogs.recover(
            graph: graph, dataDirectory: data, durability: .log, metrics: ServerMetrics(), logger: logger))
        for ids in groups { try ingest(graph, logs: logs, ids: ids) }
        #expect(try graph.shards[0].appliedLogSequence() == UInt64(groups.count))
    }

    @Test func leavingLogModeForgetsTheSequenceAndClusterModeRefusesALeftoverLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let data = dir.appending("data")
        let logDirectory = ShardGroupLogs.directory(shardDirectory: data)
        try Self.runInLogMode(data, groups: [1...5, 6...8])
        #expect(throws: GroupLogInCluster.self) { try ShardGroupLogs.refuseInCluster(shards: 1, dataDirectory: data) }

        // A crash cut the switch short after the rename: the next start finishes it.
        try FileManager.default.moveItem(atPath: logDirectory, toPath: logDirectory + ShardGroupLogs.removingSuffix)
        #expect(throws: GroupLogInCluster.self) { try ShardGroupLogs.refuseInCluster(shards: 1, dataDirectory: data) }
        do {
            let graph = try Self.open(data, .sync)
            defer { graph.close() }
            #expect(try graph.shards[0].appliedLogSequence() == 2)
            let logs = try ShardGroupLogs.recover(
                graph: graph, dataDirectory: data, durability: .sync, metrics: ServerMetrics(), logger: Self.logger)
            #expect(logs == nil)
            #expect(try graph.shards[0].appliedLogSequence() == 0)
            #expect(try graph.shards[0].totals().events == 8)
        }
        #expect(!FileManager.default.fileExists(atPath: logDirectory))
        #expect(!FileManager.default.fileExists(atPath: logDirectory + ShardGroupLogs.removingSuffix))
        try ShardGroupLogs.refuseInCluster(shards: 1, dataDirectory: data)
    }

    @Test func aCleanSwitchReplaysRemovesAndForgets() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let data = dir.appending("data")
        try Self.runInLogMode(data, groups: [1...4])
        let graph = try Self.open(data, .nosync)
        defer { graph.close() }
        _ = try ShardGroupLogs.recover(
            graph: graph, dataDirectory: data, durability: .nosync, metrics: ServerMetrics(), logger: Self.logger)
        #expect(try graph.shards[0].appliedLogSequence() == 0)
        #expect(try graph.shards[0].totals().events == 4)
        #expect(!FileManager.default.fileExists(atPath: ShardGroupLogs.directory(shardDirectory: data)))
        try ShardGroupLogs.refuseInCluster(shards: 1, dataDirectory: data)
    }
}
