import Foundation
import StitchBeacon
import StitchClient
import StitchGraph
import StitchHooks
import StitchMapping
import StitchIdentity
import StitchLog
import StitchStore

/// Everything `stitch serve` can be told, with defaults that work on a fresh
/// machine: data in `./stitch-data`, every port on 127.0.0.1.
///
/// Sources override each other in this order (later wins): these defaults,
/// the config file (`--config FILE`, JSON), environment variables
/// (`STITCH_<NAME>`), command-line flags. Every setting has one snake_case
/// name used by all three; see `ConfigurationKey.all` and
/// `ops/stitch.example.json`.
public struct ServerConfiguration: Sendable, Equatable {
    // MARK: Where
    /// Directory of the LMDB store; created if missing.
    public var dataDirectory = "./stitch-data"
    /// Address of the public listeners (ingest, intake) unless
    /// `ingestHost` / `intakeHost` name another.
    public var host = "127.0.0.1"
    /// The collector's address (TCP and UDP); "" = `host`.
    public var ingestHost = ""
    /// The public intake's address; "" = `host`.
    public var intakeHost = ""
    /// The query port's address: loopback unless set (it serves every
    /// site's persons to token holders; cluster peers forward to it).
    public var queryHost = "127.0.0.1"
    /// The internal HTTP port's address (metrics, the JSON API, the
    /// explorer): loopback unless set.
    public var httpHost = "127.0.0.1"

    /// The address `port` binds to.
    public func bindHost(_ port: Listener) -> String {
        switch port {
        case .ingest: ingestHost.isEmpty ? host : ingestHost
        case .intake: intakeHost.isEmpty ? host : intakeHost
        case .query: queryHost
        case .http: httpHost
        }
    }
    /// Beacon ingest, UDP and TCP (same number). 0 lets the OS choose.
    public var ingestPort = 7070
    /// Query protocol, TCP. 0 lets the OS choose.
    public var queryPort = 7071
    /// HTTP `/metrics` and `/healthz`. 0 lets the OS choose.
    public var httpPort = 7072
    /// Public HTTP intake (browsers, HTTP-only networks): beacons, frames, leases.
    public var intakePort = 7073
    /// Largest HTTP intake request body.
    public var intakeBodyBytesMax = 1 << 20
    /// HTTP intake requests per second from one client address.
    public var intakeRequestsPerSecondMax = 200
    /// Origins a browser may write each site's beacons from ("*" = any);
    /// a site not listed takes no browser beacons (server-side senders send
    /// no Origin and are not checked).
    public var corsOrigins: [UInt32: [String]] = [:]
    /// Each site's webhook credentials (`/v1/hooks/PROVIDER/SITE`); a provider
    /// not configured for a site is refused for it.
    public var webhooks: [UInt32: WebhookSettings] = [:]

    // MARK: Threads and sockets
    /// Collector event-loop threads; 0 means one per core. Each has its own UDP socket.
    public var eventLoops = 0
    /// Event-loop threads of the query server (and HTTP), kept apart from
    /// the collector's so lookups never wait behind a burst of batches.
    public var queryEventLoops = 1
    /// Ingest budgets, beacons per second by site; key 0 is `*` (every site
    /// not named). Empty: unlimited.
    public var siteBeaconsPerSecond: [UInt32: Int] = [:]

    /// Retention, days without activity by site; key 0 is `*`. Empty: kept forever.
    public var retentionDays: [UInt32: Int] = [:]
    /// How often the retention pass runs (`RetentionPass`).
    public var retentionPassIntervalMs = 10_000

    /// Query budgets, requests per second by grant name; `*` for the others. Empty: unlimited.
    public var tokenRequestsPerSecond: [String: Int] = [:]

    /// The query budgets to enforce, if any are configured, refilled by `nowNanoseconds`.
    func tokenBudgets(nowNanoseconds: @escaping @Sendable () -> Int64) -> TokenBudgets? {
        guard !tokenRequestsPerSecond.isEmpty else { return nil }
        return TokenBudgets(
            rates: tokenRequestsPerSecond.filter { $0.key != "*" }, defaultRate: tokenRequestsPerSecond["*"], nowNanoseconds: nowNanoseconds)
    }

    /// The ingest quotas to enforce, if any are configured, refilled by `nowNanoseconds`.
    func siteQuotas(nowNanoseconds: @escaping @Sendable () -> Int64) -> SiteQuotas? {
        guard !siteBeaconsPerSecond.isEmpty else { return nil }
        return SiteQuotas(
            rates: siteBeaconsPerSecond.filter { $0.key != 0 }, defaultRate: siteBeaconsPerSecond[0], burstSeconds: 0.1,
            nowNanoseconds: nowNanoseconds)
    }

    /// PEM certificate chain and key: TLS on the collector's TCP port and the
    /// query port when both are set ("" = plaintext). Re-read on SIGHUP.
    public var tlsCertificateFile = ""
    public var tlsKeyFile = ""
    /// PEM CA file: with TLS, the query port requires a client certificate signed by it ("" = none asked).
    public var tlsClientCAFile = ""
    /// With TLS configured, whether a plaintext connection is served (a
    /// migration) rather than refused with a typed error.
    public var tlsAllowsPlaintext = false

    /// A TCP listener: its address (`bindHost`) and whether it takes TLS (`tlsPorts`).
    public enum Listener: String, CaseIterable, Sendable {
        case ingest, query, http, intake
    }

    /// With TLS configured, the ports that take it (UDP never does).
    public var tlsPorts: Set<Listener> = Set(Listener.allCases)

    /// The TLS files, when TLS is configured.
    var tlsFiles: TLSServerContexts.Files? {
        guard !tlsCertificateFile.isEmpty else { return nil }
        return TLSServerContexts.Files(
            certificateFile: tlsCertificateFile, keyFile: tlsKeyFile, clientCAFile: tlsClientCAFile.isEmpty ? nil : tlsClientCAFile)
    }

    /// How the ingest threads (collector loops, writer, shard workers) yield
    /// the cores to lookups (`ThreadScheduling`).
    public var ingestPriority = ThreadScheduling.IngestPriority.idle
    /// Nice value added to the ingest threads with `ingestPriority` `.nice`; 0 = none.
    public var ingestNice = 5
    /// Slice asked for the query threads, µs (EEVDF, Linux 6.12+): shorter
    /// preempts sooner on waking; 0 = the kernel's default.
    public var querySliceMicroseconds = 100
    /// SO_RCVBUF of each UDP socket; the kernel may clamp it (net.core.rmem_max).
    public var udpReceiveBufferBytes = 8 << 20
    /// Datagrams read per system call (recvmmsg).
    public var udpVectorReadCount = 32

    // MARK: Writer
    /// LMDB environments (shards), each with its own write transactions and
    /// fsyncs; 0 = the store's recorded layout, or for a new store one per
    /// core (at most `ShardLayout.defaultCountMax`). A store keeps the layout
    /// it was created with (`shards.json`); asking for another is refused.
    public var shards = 0
    /// Sites placed in a shard by hand (site → shard); others by `site % shards`.
    public var shardSites: [UInt32: Int] = [:]
    /// Beacons waiting for the writer, at most; over it TCP stops reading and
    /// UDP drops (counted).
    public var queueBeaconsMax = 131_072
    /// A group commit holds at most this many beacons…
    public var groupBeaconsMax = 65_536
    /// …and waits at most this long after its first batch for more.
    public var flushIntervalMs = 2
    /// `sync`: an ack means on disk (fsync per group commit). `log`: an ack
    /// means on disk in the shard's group log (one sequential write per
    /// group, `ShardGroupLogs`); the store is checkpointed every
    /// `syncIntervalMs`. `nosync`: an ack means applied; the store is
    /// checkpointed every `syncIntervalMs`. The checkpoints run on a thread
    /// of their own beside the writer (`StoreSyncer`).
    ///
    /// Unless set (`durabilitySet`): `log` on a single node, as durable as
    /// `sync`, with lower ack latency and an unpaced rate that holds better
    /// as the store grows (side by side in docs/performance.md); `sync` in
    /// cluster mode, whose replicas' log is the JetStream stream.
    public var durability: StoreOptions.Durability {
        get { durabilitySet ?? (isCluster ? .sync : .log) }
        set { durabilitySet = newValue }
    }
    /// The durability the configuration names; nil: the default (`durability`).
    public var durabilitySet: StoreOptions.Durability?
    /// When a TCP batch is acknowledged: once committed (the default), or
    /// once in the group log with the apply right behind (`durability =
    /// log`, single node; `AckAfter`).
    public var ackAfter = AckAfter.commit
    /// `ack_after = log`: beacons logged and acknowledged but not applied
    /// yet, per shard, at most; past it the writer waits for the applier
    /// (and the collector pushes back), so a restart never has more than
    /// this to replay beyond the checkpoint's interval.
    public var applyBacklogBeaconsMax = 262_144
    /// Checkpoint period in `nosync` and `log` modes.
    public var syncIntervalMs = 1000
    /// Where this boot's identifier is read: a checkpoint taken in another
    /// boot is restored at open (`Checkpoint`). Tests point it elsewhere to
    /// play a machine restart.
    public var bootIdentifierFile = "/proc/sys/kernel/random/boot_id"
    /// Initial LMDB map size; the store grows it when nearly full.
    public var mapBytes = 1 << 30
    /// How long (in event time) an event id is remembered: a beacon resent
    /// within it is recognised and not stored again (FRAMING.md "Exactly once").
    public var dedupWindowMs = Int(GraphConfiguration.dedupWindowMsDefault)
    /// Entries per generation of the event index's write-behind
    /// (`IndexOverlay`); 0 turns it off.
    public var indexWriteBehindEvents = GraphConfiguration.indexWriteBehindEventsDefault
    /// The shared-identifier rule (`HubRule`) for every site without its own
    /// in `hubSites`: links a phone or e-mail may make alone within the period.
    public var hubLinksMax = HubRule.standard.linksMax
    public var hubPeriodMs = Int(HubRule.standard.periodMs)
    public var hubSites: [UInt32: HubRule] = [:]
    /// The shared-device rule (`SiteRules.device`) for sites not listed in
    /// `deviceSites`: links a cookie or client id may make between
    /// distinguishable persons within the period.
    public var deviceLinksMax = HubRule.devices.linksMax
    public var devicePeriodMs = Int(HubRule.devices.periodMs)
    public var deviceSites: [UInt32: HubRule] = [:]

    // MARK: Bounds against hostile or broken clients
    /// Open TCP ingest connections, at most; more are closed at accept (counted).
    public var ingestConnectionsMax = 1024
    /// Open query connections, at most (HTTP has its own small limit, so
    /// /healthz answers whatever the other ports hold).
    public var queryConnectionsMax = 256
    /// Open connections from one client address on each port, at most.
    public var connectionsPerAddressMax = 64
    /// A connection that sends nothing this long, and is owed no answer, is closed.
    public var idleTimeoutMs = 300_000
    /// A frame begun must arrive whole within this long, or the connection is
    /// closed (slowloris: many connections each holding a partial frame).
    public var partialFrameTimeoutMs = 30_000
    /// Replies an ingest connection may owe (unanswered batches and errors
    /// queued behind them) before the server stops reading it.
    public var ingestRepliesOwedMax = 1024
    /// Largest inflated payload of a UDP datagram: a datagram is at most
    /// ~1,400 bytes, so a large inflation is a bomb, and each one costs CPU.
    public var udpInflatedBytesMax = 64 << 10

    /// Each site's own phone numbers (office, reception, call-tracking pool):
    /// junk as identifiers, so a visitor who types the office number on a
    /// form is never linked to everyone else who did.
    public var junkPhones: [UInt32: [String]] = [:]

    // MARK: Call tracking and conversions
    /// Each site's tracking numbers (DESIGN.md §5). Pools set at run time
    /// through `pool_set` are kept in `<data_dir>/pools.json` and win over
    /// these for the sites they name.
    public var numberPools: [UInt32: NumberPool] = [:]
    /// Leases and call matching on (the default) or off (calls link by the
    /// caller's phone only), to measure what matching costs.
    public var callMatching = true
    /// An open page keeps renewing its number (the tracker's renewals) for at
    /// most this long after the visitor's last activity; then the number is
    /// released when its hold ends.
    public var leaseRenewalMaxSeconds = Int(CallTracking.renewalMaxMsDefault / 1000)
    /// Most tracking numbers one client address holds at once through the
    /// public intake (0: no bound). Visitors behind one carrier-grade NAT
    /// address share it: see docs/intake.md, "Nobody may drain the number pool".
    public var leaseNumbersPerAddressMax = 3
    /// Reverse proxies in front of the HTTP intake whose `X-Forwarded-For`
    /// names the client (empty: the peer is the client).
    var trustedProxies = TrustedProxies()
    /// Bitrix24 fetch timeouts and backoff (tests shorten them).
    var bitrix24Timing = Bitrix24Fetcher.Timing()
    /// Each site's own domains (subdomains included): referrers from them
    /// are internal, not a new source.
    public var siteDomains: [UInt32: [String]] = [:]
    /// Referrer domains that are no new source for a site, beside the
    /// payment gateways `SourceRules.excludedReferrers` lists.
    public var referralExclusions: [UInt32: [String]] = [:]
    /// A conversion is unique when the person had none of its type this long before.
    public var uniquePeriodMs = Int(ConversionOptions.uniquePeriodMsDefault)
    /// A call lasting at least this long is a target call.
    public var targetCallSeconds = Int(ConversionOptions.targetCallSecondsDefault)

    // MARK: Queries
    /// Query tokens; empty means loopback clients only, without a token.
    public var tokens: [TokenGrant] = []
    /// Pipelined requests a query connection may have answered before the
    /// server flushes their responses (it also flushes after every read, and
    /// stops reading while the client is not reading its answers).
    public var queryInFlightMax = 256
    /// Largest query response payload; larger answers are refused with
    /// RESPONSE_TOO_LARGE (the client narrows the request).
    public var responseBytesMax = 1 << 20

    // MARK: Lifecycle
    /// How long a graceful shutdown may take to drain before it gives up
    /// waiting for slow clients (accepted beacons are committed regardless).
    public var shutdownTimeoutMs = 10_000
    /// swift-log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    /// How log lines are written to standard error.
    public enum LogFormat: String, Sendable, CaseIterable {
        case text, json
    }
    public var logFormat = LogFormat.text

    // MARK: Cluster (docs/cluster.md)
    /// NATS servers of the cluster's JetStream, comma-separated
    /// `nats://host:port`; empty (the default) runs a single node, no NATS.
    public var clusterNATSURLs = ""
    /// Cluster mode: credentials and TLS of the NATS connections.
    public var clusterNATSSecurity = JetStreamLog.Security()
    /// This node's name in the cluster: in message ids, logs and metrics.
    public var clusterNode = "stitch-1"
    /// The address other nodes reach this one at (forwarded queries and
    /// leases); empty: `host`, or this machine's name when `host` is a
    /// wildcard (0.0.0.0, ::).
    public var clusterAdvertiseHost = ""
    /// Servers each partition's stream is kept on (1, 3 or 5).
    public var clusterReplicas = 3
    /// Partitions (shards) this node holds and applies; empty = all.
    public var clusterPartitions: [Int] = []
    /// How long a query with `min_position` waits for this node to apply
    /// that far before it answers UNAVAILABLE.
    public var clusterReadWaitMs = 2000
    /// How long a collector waits for the stream's publish ack before it
    /// answers STORE_UNAVAILABLE.
    public var clusterPublishWaitMs = 2000
    /// Log entries applied per LMDB transaction, at most (the result is the
    /// same for any value; larger groups share a commit's cost).
    public var clusterApplyEntriesMax = 64
    /// How long the streams keep entries: a replica further behind, or a
    /// new one, starts from a holder's backup (docs/cluster.md).
    public var clusterStreamMaxAgeHours = 168
    /// Bytes each partition's stream keeps at most (0: no bound but age).
    public var clusterStreamMaxBytes = 0

    /// Settings that must be equal on every node of a cluster: what a
    /// collector prepares with and what apply decides by. A fingerprint
    /// (FNV-1a, 64 bits, hex) of their values, compared through the
    /// membership list (`stitch_cluster_settings_mismatch`).
    public static let clusterEqualKeys = [
        "shards", "dedup_window_ms", "index_write_behind_events", "hub_links_max", "hub_period_ms", "hub_sites", "device_links_max",
        "device_period_ms", "device_sites", "junk_phones", "number_pools", "call_matching", "lease_renewal_max_seconds",
        "unique_period_ms", "target_call_seconds", "site_domains", "referral_exclusions",
    ]

    public var clusterSettingsFingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for name in Self.clusterEqualKeys {
            guard let key = ConfigurationKey.named(name) else { continue }
            for byte in "\(name)=\(key.value(in: self))\n".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }

    /// The address other nodes reach this one at.
    public var advertisedHost: String {
        if !clusterAdvertiseHost.isEmpty { return clusterAdvertiseHost }
        return ["0.0.0.0", "::", ""].contains(host) ? ProcessInfo.processInfo.hostName : host
    }

    /// The sites the settings name (pools, domains, webhooks, junk phones,
    /// token grants), sorted: what an admin's explorer offers to pick from.
    var namedSites: [UInt32] {
        var sites = Set(numberPools.keys).union(siteDomains.keys).union(referralExclusions.keys).union(webhooks.keys)
            .union(junkPhones.keys)
        for grant in tokens { sites.formUnion(grant.sites) }
        return sites.sorted()
    }

    /// Whether `secret` is a placeholder of the example config (`change-me…`).
    static func isPlaceholder(_ secret: String) -> Bool {
        secret.lowercased().hasPrefix("change-me")
    }

    /// Whether this node runs in cluster mode.
    public var isCluster: Bool { !clusterNATSURLs.isEmpty }

    /// Cluster mode with TLS: the CA of the other nodes' certificates.
    public var clusterPeerCAFile = ""

    /// How this node reaches a peer's `port` when it forwards to it: TLS
    /// trusting `cluster_peer_ca_file`, with this node's certificate as the
    /// client's (a query port that requires one gets it); nil: plaintext.
    func peerTLS(_ port: Listener) -> TLSClientSettings? {
        guard tlsFiles != nil, tlsPorts.contains(port), !clusterPeerCAFile.isEmpty else { return nil }
        return TLSClientSettings(caFile: clusterPeerCAFile, certificateFile: tlsCertificateFile, keyFile: tlsKeyFile)
    }

    public init() {}

    /// The connection guard's timeouts.
    var connectionTimeouts: ConnectionGuard.Timeouts {
        .init(idle: .milliseconds(Int64(idleTimeoutMs)), partialFrame: .milliseconds(Int64(partialFrameTimeoutMs)))
    }

    /// The graph's per-site rules: standard junk plus each site's own phones.
    public func graphConfiguration() throws(ConfigurationError) -> GraphConfiguration {
        var sites: [UInt32: SiteRules] = [:]
        let normalizer = IdentifierNormalizer(junk: .standard)
        let hub = HubRule(linksMax: hubLinksMax, periodMs: Int64(hubPeriodMs))
        let device = HubRule(linksMax: deviceLinksMax, periodMs: Int64(devicePeriodMs))
        for site in Set(hubSites.keys).union(deviceSites.keys) {
            sites[site] = SiteRules(hub: hubSites[site] ?? hub, device: deviceSites[site] ?? device)
        }
        for (site, phones) in junkPhones {
            var rules = sites[site] ?? SiteRules(hub: hub, device: device)
            for phone in phones {
                do {
                    rules.junk.phones.insert(try normalizer.normalize(.phone, phone).value)
                } catch {
                    throw .invalidValue(key: "junk_phones", value: phone, reason: "not a phone number: \(error)")
                }
            }
            sites[site] = rules
        }
        return GraphConfiguration(
            defaultRules: SiteRules(hub: hub, device: device), sites: sites, callMatching: callMatching, dedupWindowMs: Int64(dedupWindowMs),
            indexWriteBehindEvents: indexWriteBehindEvents)
    }

    /// The shard layout asked for, nil when left to the store (see `shards`).
    public var requestedShardLayout: ShardLayout? {
        shards == 0 ? nil : try? ShardLayout(count: shards, sites: shardSites)
    }

    /// Checks the values together; the message names the setting.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ key: String, _ why: String) throws(ConfigurationError) {
            if !ok { throw .invalidValue(key: key, value: "", reason: why) }
        }
        // The example config's secrets are placeholders: a copy deployed as it
        // is would serve every site to anyone who read the example.
        for grant in tokens where Self.isPlaceholder(grant.token) {
            throw .invalidValue(
                key: "tokens", value: grant.name,
                reason: "the token named '\(grant.name)' is the example's placeholder (change-me…); put a secret of your own, e.g. `openssl rand -hex 24`")
        }
        for (site, settings) in webhooks.sorted(by: { $0.key < $1.key }) {
            if settings.secrets.contains(where: Self.isPlaceholder) {
                throw .invalidValue(
                    key: "webhooks", value: String(site),
                    reason: "site \(site) has a webhook secret that is the example's placeholder (change-me…); put the provider's secret")
            }
        }
        for (key, port) in [("ingest_port", ingestPort), ("query_port", queryPort), ("http_port", httpPort), ("intake_port", intakePort)] {
            try check((0...65_535).contains(port), key, "a port is 0...65535")
        }
        try check(eventLoops >= 0 && eventLoops <= 64, "event_loops", "0 (one per core) to 64")
        try check(ingestNice >= 0 && ingestNice <= 19, "ingest_nice", "0 (off) to 19")
        try check(tlsCertificateFile.isEmpty == tlsKeyFile.isEmpty, "tls_key_file", "tls_cert_file and tls_key_file go together")
        try check(tlsClientCAFile.isEmpty || !tlsCertificateFile.isEmpty, "tls_client_ca_file", "needs tls_cert_file and tls_key_file")
        try check(querySliceMicroseconds == 0 || (100...100_000).contains(querySliceMicroseconds),
                  "query_slice_us", "0 (the kernel's default) or 100 to 100000 (the kernel's range)")
        try check(shards >= 0 && shards <= ShardLayout.countMax, "shards", "0 (the store's, or one per core) to \(ShardLayout.countMax)")
        try check(shardSites.isEmpty || shards > 0, "shard_sites", "placing sites by hand needs `shards` set too")
        if shards > 0 {
            do {
                _ = try ShardLayout(count: shards, sites: shardSites)
            } catch {
                throw .invalidValue(key: "shard_sites", value: "", reason: error.description)
            }
        }
        try check(intakeBodyBytesMax >= 64 << 10, "intake_body_bytes_max", "at least 64 KiB (one full frame)")
        try check(intakeRequestsPerSecondMax >= 1, "intake_requests_per_second_max", "at least 1")
        try check(queryEventLoops >= 1 && queryEventLoops <= 64, "query_event_loops", "1 to 64")
        try check(udpVectorReadCount >= 1 && udpVectorReadCount <= 1024, "udp_vector_read_count", "1...1024")
        try check(groupBeaconsMax >= 1, "group_beacons_max", "at least 1")
        try check(queueBeaconsMax >= 4096, "queue_beacons_max", "at least one full batch (4096)")
        try check(flushIntervalMs >= 0 && flushIntervalMs <= 10_000, "flush_interval_ms", "0...10000")
        try check(syncIntervalMs >= 1, "sync_interval_ms", "at least 1")
        try check(applyBacklogBeaconsMax >= 4096, "apply_backlog_beacons_max", "at least one full batch (4096)")
        if ackAfter == .log {
            try check(!isCluster, "ack_after", "log is for a single node (a cluster acks once the JetStream log has a batch already)")
            try check(durability == .log, "ack_after", "log needs durability = log (the group log is what the ack promises)")
        }
        try check(retentionPassIntervalMs >= 100, "retention_pass_interval_ms", "at least 100")
        try check(queryInFlightMax >= 1, "query_in_flight_max", "at least 1")
        // At least 64 KiB: the largest beacon the field limits allow (about
        // 16 KB, unknown fields dropped) must fit a history page of one, so
        // history can always page past any event.
        try check(
            responseBytesMax >= 64 << 10 && responseBytesMax <= 1 << 20, "response_bytes_max",
            "65536...1048576 (a response is one frame; one page must hold the largest event)")
        try check(shutdownTimeoutMs >= 0, "shutdown_timeout_ms", "not negative")
        try check(mapBytes >= 1 << 20, "map_bytes", "at least 1 MiB")
        try check(dedupWindowMs >= 1000, "dedup_window_ms", "at least 1000 (one second)")
        try check(indexWriteBehindEvents >= 0 && indexWriteBehindEvents <= 10_000_000, "index_write_behind_events",
            "0 (off) to 10000000")
        try check(hubLinksMax >= 0 && hubLinksMax < Int(UInt16.max), "hub_links_max", "between 0 (off) and 65534")
        try check(hubPeriodMs >= 1000, "hub_period_ms", "at least 1000 (one second)")
        try check(deviceLinksMax >= 0 && deviceLinksMax < Int(UInt16.max), "device_links_max", "between 0 (off) and 65534")
        try check(devicePeriodMs >= 1000, "device_period_ms", "at least 1000 (one second)")
        try check(ingestConnectionsMax >= 1, "ingest_connections_max", "at least 1")
        try check(queryConnectionsMax >= 1, "query_connections_max", "at least 1")
        try check(connectionsPerAddressMax >= 1, "connections_per_address_max", "at least 1")
        try check(idleTimeoutMs >= 100, "idle_timeout_ms", "at least 100")
        try check(partialFrameTimeoutMs >= 100, "partial_frame_timeout_ms", "at least 100")
        try check(ingestRepliesOwedMax >= 1, "ingest_replies_owed_max", "at least 1")
        try check(
            udpInflatedBytesMax >= 1024 && udpInflatedBytesMax <= 4 << 20, "udp_inflated_bytes_max",
            "1024...4194304")
        try check(uniquePeriodMs >= 0, "unique_period_ms", "not negative")
        try check(leaseNumbersPerAddressMax >= 0, "lease_numbers_per_address_max", "not negative (0: no bound)")
        try check(leaseRenewalMaxSeconds >= 0, "lease_renewal_max_seconds", "not negative (0: renewals never extend a hold)")
        try check(targetCallSeconds >= 0 && targetCallSeconds <= 86_400, "target_call_seconds", "0...86400")
        try check([1, 3, 5].contains(clusterReplicas), "cluster_replicas", "1, 3 or 5 (JetStream's replica counts)")
        try check(clusterReadWaitMs >= 0 && clusterReadWaitMs <= 60_000, "cluster_read_wait_ms", "0...60000")
        try check(clusterPublishWaitMs >= 100 && clusterPublishWaitMs <= 60_000, "cluster_publish_wait_ms", "100...60000")
        try check(clusterApplyEntriesMax >= 1 && clusterApplyEntriesMax <= 4096, "cluster_apply_entries_max", "1...4096")
        try check(clusterStreamMaxAgeHours >= 1, "cluster_stream_max_age_hours", "at least 1")
        try check(clusterStreamMaxBytes >= 0, "cluster_stream_max_bytes", "not negative (0: no bound)")
        try check(
            clusterNode.utf8.count <= 64 && !clusterNode.isEmpty && clusterNode.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }),
            "cluster_node", "1 to 64 of A-Z a-z 0-9 - _")
        if isCluster {
            try check(shards > 0, "shards", "cluster mode needs the partition count set (every node the same): shards = N")
            try check(clusterPartitions.allSatisfy { (0..<shards).contains($0) }, "cluster_partitions", "partitions are 0...shards-1")
            try check(shardSites.isEmpty, "shard_sites", "cluster mode places sites by site % shards only")
            try check(durability != .log, "durability", "a cluster replica's log is the JetStream stream: sync or nosync")
            try check(
                TokenAuthority.isLoopback(host: advertisedHost) || !TokenAuthority.isLoopback(host: queryHost), "query_host",
                "other nodes forward queries to this one at \(advertisedHost): bind the query port where they reach it (query_host = 0.0.0.0 or an address of this machine)")
            try check(
                tlsFiles == nil || tlsAllowsPlaintext || tlsPorts.isDisjoint(with: [.query, .intake]) || !clusterPeerCAFile.isEmpty,
                "cluster_peer_ca_file",
                "nodes forward queries and leases to each other; with TLS on the query or intake port, give the CA of the nodes' certificates")
        }
        _ = try graphConfiguration()
    }
}

/// A query token and the sites it may read.
public struct TokenGrant: Sendable, Equatable {
    /// The secret the client sends in `Hello.token`.
    public var token: String
    /// Sites it may read; empty means every site (admin).
    public var sites: [UInt32]
    /// Shown in logs instead of the token.
    public var name: String

    public init(token: String, sites: [UInt32], name: String = "") {
        self.token = token
        self.sites = sites
        self.name = name.isEmpty ? (sites.isEmpty ? "admin" : "sites \(sites.map(String.init).joined(separator: ","))") : name
    }
}

/// A setting that could not be used, named so the operator can fix it.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case unknownKey(String, source: String)
    case invalidValue(key: String, value: String, reason: String)
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownKey(let key, let source):
            "unknown setting '\(key)' in \(source); `stitch serve --help` lists the settings"
        case .invalidValue(let key, let value, let reason):
            value.isEmpty ? "\(key): \(reason)" : "\(key) = '\(value)': \(reason)"
        case .unreadableFile(let path, let reason):
            "cannot read config file \(path): \(reason)"
        }
    }
}
