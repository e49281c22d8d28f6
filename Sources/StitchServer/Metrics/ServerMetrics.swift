import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus
import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire
import Synchronization

/// The server's metrics: swift-metrics objects backed by one Prometheus
/// registry per server (so two servers in one test process never share
/// counters), exposed as text on `/metrics`. Counters also keep their own
/// value so the query protocol's `stats` can report them.
public final class ServerMetrics: Sendable {
    /// The registry `/metrics` prints.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let counters = NIOLockedValueBox<[String: CountedMetric]>([:])
    private let queryTimers = NIOLockedValueBox<[String: CoreMetrics.Timer]>([:])
    /// The graph's overlay rebuilds as last counted (`indexOverlayRebuilds`).
    private let indexOverlayRebuildsCounted = Atomic<Int>(0)

    // Hot counters, resolved once.
    let beaconsReceived: CountedMetric
    let beaconsAccepted: CountedMetric
    let udpDatagrams: CountedMetric
    let udpDroppedBeacons: CountedMetric
    let tcpBatches: CountedMetric
    let eventsStored: CountedMetric
    let merges: CountedMetric
    let groupCommits: CountedMetric
    let queueDepth: CoreMetrics.Gauge
    let commitSeconds: CoreMetrics.Timer
    let commitStoreSeconds: CoreMetrics.Timer
    let syncSeconds: CoreMetrics.Timer
    let groupLogAppendSeconds: CoreMetrics.Timer
    let groupBeacons: CoreMetrics.Recorder
    let commitPages: CoreMetrics.Recorder
    let pagesWritten: CountedMetric
    let storeBytes: CoreMetrics.Gauge
    let mapBytes: CoreMetrics.Gauge
    let ingestConnections: CoreMetrics.Meter
    let ingestReadsHeld: CoreMetrics.Meter
    let queryConnections: CoreMetrics.Meter
    let udpKernelDrops: CoreMetrics.Gauge
    let queueBeaconsMax: CoreMetrics.Gauge
    let batchAckSeconds: CoreMetrics.Timer
    let logPublishSeconds: CoreMetrics.Timer
    let logApplyLagSeconds: CoreMetrics.Timer
    let clusterSettingsMismatch: CoreMetrics.Gauge

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            MetricName.commitSeconds.name: [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                       .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                       .milliseconds(100), .milliseconds(250), .milliseconds(1000)],
            MetricName.commitStoreSeconds.name: [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                            .milliseconds(100), .milliseconds(250), .milliseconds(1000)],
            MetricName.groupLogAppendSeconds.name: [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                               .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                               .milliseconds(100), .milliseconds(250), .milliseconds(1000)],
            MetricName.syncSeconds.name: [.milliseconds(1), .milliseconds(10), .milliseconds(50), .milliseconds(100),
                                     .milliseconds(250), .milliseconds(500), .milliseconds(1000), .milliseconds(2500),
                                     .milliseconds(10_000)],
            MetricName.batchAckSeconds.name: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                         .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                         .milliseconds(1000), .milliseconds(2500), .milliseconds(10_000)],
            MetricName.logPublishSeconds.name: [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                           .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
                                           .milliseconds(1000), .milliseconds(5000)],
            MetricName.logApplyLagSeconds.name: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(1000),
                                            .milliseconds(5000), .milliseconds(30_000)],
            MetricName.querySeconds.name: [.microseconds(25), .microseconds(50), .microseconds(100), .microseconds(200),
                                      .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25),
                                      .milliseconds(100)],
        ]
        factory.valueHistogramBuckets = [
            MetricName.groupBeacons.name: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 20_000, 50_000],
            MetricName.commitPages.name: [2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000],
        ]
        self.factory = factory
        func counter(_ metric: MetricName) -> CountedMetric {
            CountedMetric(name: metric.name, labels: [], factory: factory)
        }
        beaconsReceived = counter(.beaconsReceived)
        beaconsAccepted = counter(.beaconsAccepted)
        udpDatagrams = counter(.udpDatagrams)
        udpDroppedBeacons = counter(.udpDroppedBeacons)
        tcpBatches = counter(.tcpBatches)
        eventsStored = counter(.eventsStored)
        merges = counter(.merges)
        groupCommits = counter(.groupCommits)
        queueDepth = CoreMetrics.Gauge(label: MetricName.queueBeacons.name, factory: factory)
        commitSeconds = CoreMetrics.Timer(label: MetricName.commitSeconds.name, factory: factory)
        commitStoreSeconds = CoreMetrics.Timer(label: MetricName.commitStoreSeconds.name, factory: factory)
        syncSeconds = CoreMetrics.Timer(label: MetricName.syncSeconds.name, factory: factory)
        groupLogAppendSeconds = CoreMetrics.Timer(label: MetricName.groupLogAppendSeconds.name, factory: factory)
        groupBeacons = CoreMetrics.Recorder(label: MetricName.groupBeacons.name, aggregate: true, factory: factory)
        commitPages = CoreMetrics.Recorder(label: MetricName.commitPages.name, aggregate: true, factory: factory)
        pagesWritten = counter(.pagesWritten)
        storeBytes = CoreMetrics.Gauge(label: MetricName.storeBytes.name, factory: factory)
        mapBytes = CoreMetrics.Gauge(label: MetricName.mapBytes.name, factory: factory)
        ingestConnections = CoreMetrics.Meter(label: MetricName.ingestConnections.name, factory: factory)
        ingestReadsHeld = CoreMetrics.Meter(label: MetricName.ingestReadsHeld.name, factory: factory)
        queryConnections = CoreMetrics.Meter(label: MetricName.queryConnections.name, factory: factory)
        udpKernelDrops = CoreMetrics.Gauge(label: MetricName.udpKernelDrops.name, factory: factory)
        queueBeaconsMax = CoreMetrics.Gauge(label: MetricName.queueBeaconsMax.name, factory: factory)
        batchAckSeconds = CoreMetrics.Timer(label: MetricName.batchAckSeconds.name, factory: factory)
        logPublishSeconds = CoreMetrics.Timer(label: MetricName.logPublishSeconds.name, factory: factory)
        logApplyLagSeconds = CoreMetrics.Timer(label: MetricName.logApplyLagSeconds.name, factory: factory)
        clusterSettingsMismatch = CoreMetrics.Gauge(label: MetricName.clusterSettingsMismatch.name, factory: factory)
        for metric in [beaconsReceived, beaconsAccepted, udpDatagrams, udpDroppedBeacons, tcpBatches, eventsStored,
                       merges, groupCommits] {
            counters.withLockedValue { $0[metric.key] = metric }
        }
        declareKnownSeries()
    }

    /// Creates at 0 every counter whose label values are known in advance,
    /// so a dashboard or an alert sees a flat line rather than no data until
    /// the first event (and a rate over a counter's first increment is not lost).
    private func declareKnownSeries() {
        for metric in MetricName.allCases where metric.labels.isEmpty && metric.name.hasSuffix("_total") {
            _ = counter(metric)
        }
        for reason in BeaconRejection.Reason.allCases { _ = counter(.beaconsRejected, [("reason", reason.rawValue)]) }
        for code in FrameError.codes {
            for transport in BatchIntake.Transport.allCases {
                _ = counter(.framesRejected, [("reason", code), ("transport", transport.rawValue)])
            }
        }
        for code in IdentifierRejection.codes { _ = counter(.identifiersRejected, [("reason", code)]) }
        for reason in ConflictReason.all { _ = counter(.conflicts, [("reason", reason.description)]) }
        for match in ["session", "waiting"] { _ = counter(.calls, [("match", match)]) }
        for kind in LeaseGrant.Kind.allCases { _ = counter(.leases, [("kind", kind.rawValue)]) }
        for source in ["manual", "junk", "automatic"] { _ = counter(.quarantines, [("source", source)]) }
    }

    /// Declares the cluster's series (a single node exports none of them).
    func declareCluster(partitions: [Int]) {
        for outcome in ["stored", "duplicate", "failed"] { _ = counter(.logPublishes, [("outcome", outcome)]) }
        for outcome in ["reached", "timed_out", "not_held"] { _ = counter(.logReadWaits, [("outcome", outcome)]) }
        for outcome in ["answered", "failed"] { _ = counter(.queryForwards, [("outcome", outcome)]) }
        for partition in partitions { logApplied(partition: partition, applied: 0, last: 0, stopped: false) }
    }

    /// One partition's apply position on this node.
    func logApplied(partition: Int, applied: UInt64, last: UInt64, stopped: Bool) {
        let dimensions = [("partition", String(partition))]
        CoreMetrics.Gauge(label: MetricName.logAppliedSequence.name, dimensions: dimensions, factory: factory).record(Double(applied))
        CoreMetrics.Gauge(label: MetricName.logLastSequence.name, dimensions: dimensions, factory: factory).record(Double(max(last, applied)))
        CoreMetrics.Gauge(label: MetricName.logLagEntries.name, dimensions: dimensions, factory: factory)
            .record(Double(last > applied ? last - applied : 0))
        CoreMetrics.Gauge(label: MetricName.logApplyStopped.name, dimensions: dimensions, factory: factory).record(stopped ? 1 : 0)
    }

    /// The counter `metric{labels}`, created on first use. Labels are given
    /// in the order `MetricName.labels` declares.
    func counter(_ metric: MetricName, _ labels: [(String, String)] = []) -> CountedMetric {
        assert(labels.map(\.0) == metric.labels, "\(metric.name) takes labels \(metric.labels)")
        let key = CountedMetric.key(name: metric.name, labels: labels)
        return counters.withLockedValue { counters in
            if let existing = counters[key] { return existing }
            let metric = CountedMetric(name: metric.name, labels: labels, factory: factory)
            counters[key] = metric
            return metric
        }
    }

    /// A frame refused as a whole (`reason` is `FrameError.code`).
    func frameRejected(reason: String, transport: String) {
        counter(.framesRejected, [("reason", reason), ("transport", transport)]).increment()
    }

    /// Beacons refused one by one (`reason` is the wire reject reason).
    func beaconRejected(reason: String, count: Int = 1) {
        counter(.beaconsRejected, [("reason", reason)]).increment(by: count)
    }

    /// Records each site's pool use (`stitch_lease_numbers{site,state}`).
    func leaseNumbers(_ pressure: [UInt32: LeasePressure]) {
        for (site, counts) in pressure {
            for (state, count) in [("active", counts.active), ("open_page", counts.openPage), ("free", counts.free)] {
                CoreMetrics.Gauge(label: MetricName.leaseNumbers.name, dimensions: [("site", String(site)), ("state", state)], factory: factory)
                    .record(count)
            }
            CoreMetrics.Gauge(label: MetricName.leaseNumbersTopAddresses.name, dimensions: [("site", String(site))], factory: factory)
                .record(counts.heldByTopAddresses)
        }
    }

    /// Brings `stitch_index_overlay_rebuilds_total` up to the graph's own
    /// running count, `total`.
    func indexOverlayRebuilds(total: Int) {
        let counted = indexOverlayRebuildsCounted.exchange(total, ordering: .relaxed)
        if total > counted { counter(.indexOverlayRebuilds).increment(by: total - counted) }
    }

    /// A device-clock batch, by how far its clock was off (`BatchClock.offsetLabel`).
    func deviceClockBatch(offset: String) {
        counter(.deviceClockBatches, [("offset", offset)]).increment()
    }

    /// Counts quarantines and the persons their repairs made (the
    /// identifier's own and every part beyond the one keeping the id).
    func countRepairs(_ results: [RepairResult], source: String) {
        counter(.quarantines, [("source", source)]).increment(by: results.count)
        counter(.personsSplit).increment(by: results.reduce(0) { $0 + max(0, $1.personIDs.count - 1) })
    }

    /// Counts a lease answer; FALLBACK means the site's pool was exhausted.
    func leases(kind: LeaseGrant.Kind, site: UInt32) {
        counter(.leases, [("kind", kind.rawValue)]).increment()
        if kind == .fallback {
            counter(.leasePoolExhausted, [("site", String(site))]).increment()
        }
    }

    /// The latency histogram of one query type, made once per type and kept
    /// (making it looks it up in the registry under a lock).
    func queryTimer(type: String) -> CoreMetrics.Timer {
        queryTimers.withLockedValue { timers in
            if let timer = timers[type] { return timer }
            let timer = CoreMetrics.Timer(label: MetricName.querySeconds.name, dimensions: [("type", type)], factory: factory)
            timers[type] = timer
            return timer
        }
    }

    /// Every counter with its value, sorted by name, for `stats`.
    public func counterValues() -> [(name: String, value: UInt64)] {
        counters.withLockedValue { $0.values.map { ($0.key, $0.value) } }.sorted { $0.name < $1.name }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// A swift-metrics counter that also remembers its value.
final class CountedMetric: Sendable {
    /// `name{label="value",…}`: the name `stats` reports.
    let key: String
    private let counter: CoreMetrics.Counter
    private let total = Atomic<UInt64>(0)

    init(name: String, labels: [(String, String)], factory: PrometheusMetricsFactory) {
        key = Self.key(name: name, labels: labels)
        counter = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
    }

    static func key(name: String, labels: [(String, String)]) -> String {
        labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
    }

    func increment(by amount: Int = 1) {
        guard amount > 0 else { return }
        counter.increment(by: amount)
        total.add(UInt64(amount), ordering: .relaxed)
    }

    var value: UInt64 { total.load(ordering: .relaxed) }
}
