import Foundation
import Logging
import StitchLog
import Synchronization

/// One node as the others see it: where to reach it and what it holds.
struct ClusterMember: Codable, Sendable, Equatable {
    var node: String
    /// The address other nodes reach it at (`cluster_advertise_host`).
    var host: String
    var ingest: Int
    var query: Int
    var http: Int
    var intake: Int
    var partitions: [Int]
    /// `ServerConfiguration.clusterSettingsFingerprint`: nodes with other
    /// settings would prepare and apply differently.
    var settings: String
}

/// Who is in the cluster now: each node keeps its `ClusterMember` in the
/// JetStream key-value bucket `stitch_nodes`, put again every
/// `refreshMs`; an entry not refreshed for `ttlSeconds` expires, so a node
/// that died leaves the list by itself. Placement is configuration
/// (`cluster_partitions`); this is where the other nodes learn it.
///
/// It answers two questions: which node answers for a partition this node
/// does not hold (a holder: forwarding), and which node grants a
/// partition's tracking numbers (the first live holder by name: one
/// allocator per partition, so two nodes never hand one number to two
/// sessions at once).
final class ClusterMembership: Sendable {
    static let bucket = "stitch_nodes"
    static let ttlSeconds: Int64 = 10
    static let refreshMs = 2000

    let me: ClusterMember
    private let kv: KeyValueBucket
    private let logger: Logger
    private let metrics: ServerMetrics
    private let members = Mutex<[ClusterMember]>([])
    /// The other members' addresses as a peer address reads (their
    /// advertised host resolved), for trusting their forwarded leases.
    private let peerAddresses = Mutex<Set<String>>([])
    /// Resolved hosts, so a name is looked up once.
    private let resolved = Mutex<[String: [String]]>([:])
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(log: JetStreamLog, me: ClusterMember, replicas: Int, metrics: ServerMetrics, logger: Logger) throws {
        self.me = me
        self.logger = logger
        self.metrics = metrics
        kv = try KeyValueBucket(log: log, bucket: Self.bucket, ttlSeconds: Self.ttlSeconds, replicas: replicas)
        try refresh()
    }

    /// Puts this node's entry now and every `refreshMs`, and reads the others'.
    func start() {
        let thread = Thread { [self] in
            ThreadScheduling.nameCurrentThread("stitch-membership")
            while !stopping.load(ordering: .relaxed) {
                do {
                    try refresh()
                } catch {
                    logger.warning("cluster membership: \(error) (the list of nodes is kept as it was)")
                }
                for _ in 0..<(Self.refreshMs / 100) where !stopping.load(ordering: .relaxed) { usleep(100_000) }
            }
            done.signal()
        }
        thread.name = "stitch-membership"
        thread.start()
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        done.wait()
    }

    private func refresh() throws {
        try kv.put(me.node, try JSONEncoder().encode(me).map { $0 })
        var found: [ClusterMember] = []
        for key in try kv.keys() {
            guard let bytes = try kv.get(key), let member = try? JSONDecoder().decode(ClusterMember.self, from: Data(bytes)) else { continue }
            found.append(member)
        }
        found.sort { $0.node < $1.node }
        let changed = members.withLock { current in
            defer { current = found }
            return current.map(\.node) != found.map(\.node)
        }
        if changed { logger.notice("cluster members: \(found.map { "\($0.node) (\($0.partitions.map(String.init).joined(separator: ",")))" }.joined(separator: ", "))") }
        var peers: Set<String> = []
        for member in found where member.node != me.node {
            peers.formUnion(addresses(of: member.host))
        }
        peerAddresses.withLock { $0 = peers }
        let differing = found.filter { $0.settings != me.settings }.map(\.node)
        metrics.clusterSettingsMismatch.record(differing.count)
        if changed, !differing.isEmpty {
            logger.error("cluster members \(differing.joined(separator: ", ")) run other settings than this node (\(ServerConfiguration.clusterEqualKeys.joined(separator: ", ")) must be equal on every node): replicas would diverge. `stitch serve --print-config` on each shows them")
        }
    }

    /// Every live node, by name.
    var all: [ClusterMember] { members.withLock { $0 } }

    /// The live nodes holding `partition`, by name.
    func holders(of partition: Int) -> [ClusterMember] {
        all.filter { $0.partitions.contains(partition) }
    }

    /// The node that grants `partition`'s tracking numbers: its first live holder by name.
    func leaseNode(of partition: Int) -> ClusterMember? {
        holders(of: partition).first
    }

    /// A node to forward a request for `partition` to: a live holder, not this node.
    func forwardTarget(for partition: Int) -> ClusterMember? {
        holders(of: partition).first { $0.node != me.node }
    }

    /// Whether `address` is another node of the cluster (its forwarded
    /// requests name their client in X-Forwarded-For).
    func isPeer(address: String) -> Bool {
        peerAddresses.withLock { $0.contains(address) }
    }

    /// `host` as numeric addresses (itself when it is one), looked up once.
    private func addresses(of host: String) -> [String] {
        if let known = resolved.withLock({ $0[host] }) { return known }
        var found = [host]
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        if getaddrinfo(host, nil, &hints, &list) == 0 {
            var next = list
            while let info = next {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    found.append(String(nulTerminated: buffer))
                }
                next = info.pointee.ai_next
            }
            freeaddrinfo(list)
        }
        resolved.withLock { $0[host] = found }
        return found
    }
}
