import NIOConcurrencyHelpers
import NIOCore
import StitchClient
import StitchWire

/// Sends a query this node cannot answer to a node that can (a holder of
/// the site's partition, or the partition's lease node), over the same
/// query protocol, with the asking client's token — the holder checks it
/// again. One connection per peer and token, made on first use and
/// dropped when it fails.
///
/// A forwarded request says so in its hello (`clientName`), and a node
/// never forwards such a request again: stale membership cannot make two
/// nodes bounce a request between them.
final class QueryForwarder: Sendable {
    static let clientName = "stitch-forward"

    private let group: any EventLoopGroup
    private let clients = NIOLockedValueBox<[String: QueryClient]>([:])
    private let metrics: ServerMetrics
    /// TLS to the peers' query ports (`cluster_peer_ca_file`); nil: plaintext.
    private let tls: TLSClientSettings?

    init(group: any EventLoopGroup, metrics: ServerMetrics, tls: TLSClientSettings? = nil) {
        self.group = group
        self.metrics = metrics
        self.tls = tls
    }

    /// `member`'s answer to the request.
    func forward(
        _ kind: Stitch_V1_Request.OneOf_Kind, minPosition: Stitch_V1_LogPosition?, token: String, to member: ClusterMember
    ) async -> Stitch_V1_Response.OneOf_Kind {
        let key = "\(member.host):\(member.query)|\(token)"
        do {
            let client: QueryClient
            if let known = clients.withLockedValue({ $0[key] }) {
                client = known
            } else {
                client = try await QueryClient.connect(
                    host: member.host, port: member.query, token: token, clientName: Self.clientName, group: group, tls: tls)
                clients.withLockedValue { $0[key] = client }
            }
            let response = try await client.response(kind, minPosition: minPosition).get()
            metrics.counter(.queryForwards, [("outcome", "answered")]).increment()
            return response.kind ?? .error(QueryFailure(.internal, "\(member.node) sent an empty answer").wireMessage)
        } catch {
            if let dropped = clients.withLockedValue({ $0.removeValue(forKey: key) }) { Task { await dropped.close() } }
            metrics.counter(.queryForwards, [("outcome", "failed")]).increment()
            return .error(QueryFailure(.unavailable, "node \(member.node), which holds this site, did not answer (\(error)); retry").wireMessage)
        }
    }

    func close() async {
        let all = clients.withLockedValue { clients in
            defer { clients = [:] }
            return Array(clients.values)
        }
        for client in all { await client.close() }
    }
}

extension Stitch_V1_Request.OneOf_Kind {
    /// The one site the request is about; nil for requests about every
    /// site (stats, merges of all sites), the hello, and the audit log,
    /// which is each node's own.
    var site: UInt32? {
        switch self {
        case .hello, .stats, .audit: nil
        case .lookup(let request): request.site
        case .batchLookup(let request): request.site
        case .history(let request): request.site
        case .mergesSince(let request): request.site == 0 ? nil : request.site
        case .lease(let request): request.site
        case .explain(let request): request.site
        case .poolSet(let request): request.site
        case .poolGet(let request): request.site
        case .quarantine(let request): request.site
        case .unquarantine(let request): request.site
        case .shared(let request): request.site
        case .forget(let request): request.site
        case .personGraph(let request): request.site
        }
    }
}
