import Foundation
import StitchGraph
import StitchHooks
import StitchStore

/// One named setting of `ServerConfiguration`: the same snake_case name in the
/// config file, in the environment (`STITCH_` + upper case) and in `--set`.
public struct ConfigurationKey: Sendable {
    /// e.g. `ingest_port`.
    public let name: String
    /// One line for `--help` and the example config.
    public let help: String
    let apply: @Sendable (inout ServerConfiguration, String) throws(ConfigurationError) -> Void
    let current: @Sendable (ServerConfiguration) -> String

    /// This setting's value in `configuration`, as text.
    public func value(in configuration: ServerConfiguration) -> String { current(configuration) }

    /// The environment variable that sets this key.
    public var environmentName: String { "STITCH_" + name.uppercased() }

    /// Every setting, in the order the docs list them.
    public static let all: [ConfigurationKey] = [
        string("data_dir", "directory of the LMDB store", \.dataDirectory),
        string("host", "address of the public listeners, ingest and intake, unless ingest_host or intake_host is set (0.0.0.0: every interface)", \.host),
        string("ingest_host", "address of the collector, TCP and UDP (empty: host)", \.ingestHost),
        string("intake_host", "address of the public HTTP intake (empty: host)", \.intakeHost),
        string("query_host", "address of the query port: loopback unless set (cluster nodes: an address peers reach)", \.queryHost),
        string("http_host", "address of the internal HTTP port (metrics, JSON API, explorer): loopback unless set", \.httpHost),
        string("tls_cert_file", "PEM certificate chain: TLS on the collector's TCP port and the query port (with tls_key_file); re-read on SIGHUP", \.tlsCertificateFile),
        string("tls_key_file", "PEM private key of tls_cert_file", \.tlsKeyFile),
        string("tls_client_ca_file", "PEM CA file: the query port then requires a client certificate it signed", \.tlsClientCAFile),
        ConfigurationKey(
            name: "tls_plaintext",
            help: "with TLS configured, a plaintext connection is refused (refuse: a typed error, then closed) or served (allow: for a migration)",
            apply: { (config, text) throws(ConfigurationError) in
                switch text {
                case "refuse": config.tlsAllowsPlaintext = false
                case "allow": config.tlsAllowsPlaintext = true
                default: throw .invalidValue(key: "tls_plaintext", value: text, reason: "refuse or allow")
                }
            }, current: { $0.tlsAllowsPlaintext ? "allow" : "refuse" }),
        ConfigurationKey(
            name: "tls_ports",
            help: "with TLS configured, the TCP ports that take it: any of ingest, query, http, intake, comma-separated (http and intake: leave out those a TLS-terminating proxy serves)",
            apply: { (config, text) throws(ConfigurationError) in
                var ports: Set<ServerConfiguration.Listener> = []
                for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                    guard let port = ServerConfiguration.Listener(rawValue: name) else {
                        throw .invalidValue(key: "tls_ports", value: name, reason: "one of ingest, query, http, intake")
                    }
                    ports.insert(port)
                }
                config.tlsPorts = ports
            }, current: { config in ServerConfiguration.Listener.allCases.filter(config.tlsPorts.contains).map(\.rawValue).joined(separator: ",") }),
        int("ingest_port", "beacon ingest, UDP and TCP (0: OS chooses)", \.ingestPort),
        int("query_port", "query protocol, TCP (0: OS chooses)", \.queryPort),
        int("http_port", "internal HTTP: /metrics, /healthz, the JSON API (/api/v1), the explorer (/explorer/) (0: OS chooses)", \.httpPort),
        int("intake_port", "public HTTP intake: /v1/beacon, /v1/frames, /v1/lease (0: OS chooses)", \.intakePort),
        int("intake_body_bytes_max", "largest HTTP intake request body", \.intakeBodyBytesMax),
        int("intake_requests_per_second_max", "HTTP intake requests per second from one address, at most", \.intakeRequestsPerSecondMax),
        ConfigurationKey(
            name: "cors_origins", help: "origins a browser may send each site's beacons from: SITE=https://a.example,https://b.example;SITE=*",
            apply: { (config, text) throws(ConfigurationError) in config.corsOrigins = try parseCORSOrigins(text) },
            current: { $0.corsOrigins.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: ";") }),
        ConfigurationKey(
            name: "webhooks",
            help: "webhook credentials per site as JSON: {\"SITE\": {\"jivo\": {\"token\": …}, \"zadarma\": {\"secret\": …, \"utc_offset_minutes\": 180}, \"mango\": {\"api_key\": …, \"api_salt\": …}, \"amocrm\": {\"token\": …, \"currency\": \"RUB\"}, \"deals\": {\"token\": …}}}",
            apply: { (config, text) throws(ConfigurationError) in
                do {
                    config.webhooks = try WebhookSettings.parse(text)
                } catch let error as WebhookSettings.ParseError {
                    throw .invalidValue(key: "webhooks", value: "", reason: error.description)
                } catch {
                    throw .invalidValue(key: "webhooks", value: "", reason: "\(error)")
                }
            },
            current: { WebhookSettings.redactedText($0.webhooks) }),
        int("event_loops", "collector event-loop threads, 0 = one per core", \.eventLoops),
        int("query_event_loops", "query server event-loop threads", \.queryEventLoops),
        choice(
            "ingest_priority",
            "how ingest threads (collector loops, writer, shard workers) yield cores to lookups: idle (SCHED_IDLE: only cycles nobody else wants; for a dedicated host), nice (ingest_nice added; for a shared host) or normal",
            \.ingestPriority),
        int("ingest_nice", "nice value added to ingest threads with ingest_priority = nice; 0 = off", \.ingestNice),
        int("query_slice_us", "time slice asked for query threads, µs (Linux 6.12+ EEVDF: a shorter slice preempts sooner on waking); 0 = the kernel's default", \.querySliceMicroseconds),
        int("udp_receive_buffer_bytes", "SO_RCVBUF per UDP socket", \.udpReceiveBufferBytes),
        int("udp_vector_read_count", "datagrams per recvmmsg call", \.udpVectorReadCount),
        int("shards", "LMDB environments, each with its own writer: 0 = the store's recorded layout, or one per core (at most \(ShardLayout.defaultCountMax)) for a new store", \.shards),
        ConfigurationKey(
            name: "shard_sites", help: "sites placed in a shard by hand: SITE=SHARD;SITE=… (others by site % shards)",
            apply: { (config, text) throws(ConfigurationError) in config.shardSites = try parseShardSites(text) },
            current: { $0.shardSites.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";") }),
        ConfigurationKey(
            name: "site_beacons_per_second",
            help: "ingest budgets, beacons/s per site: SITE=RATE;…;*=RATE (* for the sites not named; none: unlimited). A batch with a site over budget is refused whole (OVER_QUOTA, counted) and resent by its client after a back-off",
            apply: { (config, text) throws(ConfigurationError) in config.siteBeaconsPerSecond = try parseSiteRates(text, key: "site_beacons_per_second") },
            current: { config in
                config.siteBeaconsPerSecond.sorted { $0.key < $1.key }
                    .map { "\($0.key == 0 ? "*" : String($0.key))=\($0.value)" }.joined(separator: ";")
            }),
        ConfigurationKey(
            name: "retention_days",
            help: "how long a person is kept without activity, days per site: SITE=DAYS;…;*=DAYS (* for the sites not named; none: forever). Activity is the latest event time under any of its identifiers; a housekeeping pass erases inactive persons as forget does, without the suppression list (change feed reason retention)",
            apply: { (config, text) throws(ConfigurationError) in config.retentionDays = try parseRates(text, key: "retention_days", form: "SITE=DAYS", parseKey: parseSite) },
            current: { config in
                config.retentionDays.sorted { $0.key < $1.key }
                    .map { "\($0.key == 0 ? "*" : String($0.key))=\($0.value)" }.joined(separator: ";")
            }),
        int("retention_pass_interval_ms", "how often the retention pass runs; each run reads at most 50,000 node records per shard and erases at most 200 persons, one per commit", \.retentionPassIntervalMs),
        ConfigurationKey(
            name: "token_requests_per_second",
            help: "query budgets, requests/s per token by grant name: NAME=RATE;…;*=RATE (* for the grants not named; none: unlimited). Over it a request is refused UNAVAILABLE (retry later), counted",
            apply: { (config, text) throws(ConfigurationError) in config.tokenRequestsPerSecond = try parseNamedRates(text, key: "token_requests_per_second") },
            current: { $0.tokenRequestsPerSecond.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";") }),
        int("queue_beacons_max", "beacons waiting for the writer, at most", \.queueBeaconsMax),
        int("group_beacons_max", "beacons per group commit, at most", \.groupBeaconsMax),
        int("flush_interval_ms", "longest wait for a group to fill", \.flushIntervalMs),
        choice("durability", "sync (an ack is on disk: fsync of the store per group commit), log (an ack is on disk in the shard's group log: one sequential write per group; the store is checkpointed every sync_interval_ms and a restart replays the log after the checkpoint) or nosync (acks on apply; checkpointed every sync_interval_ms; a machine crash returns the store to its last checkpoint). Unless set: log on a single node, sync in cluster mode", \.durability),
        int("sync_interval_ms", "checkpoint period in nosync and log modes", \.syncIntervalMs),
        choice("ack_after", "when a TCP batch is acked: commit (applied and committed to the store; the ack counts repeats, and a lookup sent after it sees the beacons) or log (durability = log, single node: once in the shard's group log on disk, applied right behind in larger transactions; the ack counts no repeats and carries log positions for a query's min_position)", \.ackAfter),
        int("apply_backlog_beacons_max", "ack_after = log: beacons acked but not applied yet, per shard, at most (then the collector pushes back)", \.applyBacklogBeaconsMax),
        string("boot_id_file", "file holding this boot's id: a store checkpointed in another boot is restored to its checkpoint at open (nosync, log; tests point it elsewhere to play a reboot)", \.bootIdentifierFile),
        int("map_bytes", "initial LMDB map size (grows by itself)", \.mapBytes),
        int("index_write_behind_events", "the event index's write-behind: a visit in progress's index entries and counts wait in memory and a journal, and each generation of this many is written out in key order, a slice per commit (fewer copied pages per commit; 0: every entry in its own commit)", \.indexWriteBehindEvents),
        int("dedup_window_ms", "how long from its arrival an event id is remembered to drop resent beacons (whatever the event time)", \.dedupWindowMs),
        int("ingest_connections_max", "open TCP ingest connections, at most", \.ingestConnectionsMax),
        int("query_connections_max", "open query connections, at most", \.queryConnectionsMax),
        int("connections_per_address_max", "open connections from one address per port, at most",
            \.connectionsPerAddressMax),
        int("idle_timeout_ms", "close a connection that sends nothing this long while owed no answer", \.idleTimeoutMs),
        int("partial_frame_timeout_ms", "close a connection whose begun frame is not whole within this",
            \.partialFrameTimeoutMs),
        int("ingest_replies_owed_max", "replies an ingest connection may owe before reads stop",
            \.ingestRepliesOwedMax),
        int("udp_inflated_bytes_max", "largest inflated UDP payload (zlib bomb bound)", \.udpInflatedBytesMax),
        int("hub_links_max", "links a phone or e-mail may make alone between distinguishable persons within hub_period_ms before it is quarantined as shared (0 = off)", \.hubLinksMax),
        int("hub_period_ms", "the shared-identifier rule's period, in event time", \.hubPeriodMs),
        ConfigurationKey(
            name: "hub_sites", help: "per-site shared-identifier rule: SITE=LINKS_MAX/PERIOD_MS;SITE=…",
            apply: { (config, text) throws(ConfigurationError) in config.hubSites = try parseHubSites(text, key: "hub_sites") },
            current: { $0.hubSites.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.linksMax)/\($0.value.periodMs)" }.joined(separator: ";") }),
        int("device_links_max", "links a cookie, GA or Yandex client id may make between distinguishable persons within device_period_ms before it is quarantined as a shared device, with the browser's other ids (0 = off)", \.deviceLinksMax),
        int("device_period_ms", "the shared-device rule's period, in event time", \.devicePeriodMs),
        ConfigurationKey(
            name: "device_sites", help: "per-site shared-device rule: SITE=LINKS_MAX/PERIOD_MS;SITE=…",
            apply: { (config, text) throws(ConfigurationError) in config.deviceSites = try parseHubSites(text, key: "device_sites") },
            current: { $0.deviceSites.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.linksMax)/\($0.value.periodMs)" }.joined(separator: ";") }),
        ConfigurationKey(
            name: "junk_phones", help: "each site's own phones, never identifiers: SITE=PHONE,PHONE;SITE=…",
            apply: { (config, text) throws(ConfigurationError) in config.junkPhones = try parseJunkPhones(text) },
            current: { $0.junkPhones.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: ";") }),
        ConfigurationKey(
            name: "number_pools",
            help: "call-tracking pools as JSON: {\"SITE\": {\"dynamic_numbers\": […], \"hold_seconds\": 900, …}}",
            apply: { (config, text) throws(ConfigurationError) in config.numberPools = try PoolsJSON.parse(text) },
            current: { PoolsJSON.text($0.numberPools.mapValues(\.wire)) }),
        ConfigurationKey(
            name: "call_matching", help: "on: match calls to sessions by leases; off: by the caller's phone only",
            apply: { (config, text) throws(ConfigurationError) in
                guard let on = ["on": true, "off": false][text] else {
                    throw .invalidValue(key: "call_matching", value: text, reason: "on or off")
                }
                config.callMatching = on
            }, current: { $0.callMatching ? "on" : "off" }),
        int("lease_numbers_per_address_max",
            "most tracking numbers one client address holds at once through the public intake (0: no bound)",
            \.leaseNumbersPerAddressMax),
        ConfigurationKey(
            name: "trusted_proxies",
            help: "reverse proxies whose X-Forwarded-For names the client, as addresses or CIDRs: 10.0.0.0/8,::1",
            apply: { (config, text) throws(ConfigurationError) in
                guard let proxies = TrustedProxies.parse(text) else {
                    throw .invalidValue(key: "trusted_proxies", value: text, reason: "expected addresses or CIDRs, comma-separated: 10.0.0.0/8,::1")
                }
                config.trustedProxies = proxies
            }, current: { $0.trustedProxies.text }),
        int("lease_renewal_max_seconds",
            "an open page renews its tracking number for at most this long after the visitor's last activity",
            \.leaseRenewalMaxSeconds),
        ConfigurationKey(
            name: "site_domains",
            help: "each site's own domains, subdomains included (referrers from them are internal, no new source): SITE=shop.example,shop-pay.example;SITE=…",
            apply: { (config, text) throws(ConfigurationError) in config.siteDomains = try parseSiteDomains(text, key: "site_domains") },
            current: { $0.siteDomains.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: ";") }),
        ConfigurationKey(
            name: "referral_exclusions",
            help: "referrer domains that are no new source for a site, beside the payment gateways excluded by default: SITE=pay.example;SITE=…",
            apply: { (config, text) throws(ConfigurationError) in config.referralExclusions = try parseSiteDomains(text, key: "referral_exclusions") },
            current: { $0.referralExclusions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: ";") }),
        int("unique_period_ms", "a conversion is unique if the person had none of its type this long before",
            \.uniquePeriodMs),
        int("target_call_seconds", "a call at least this long is a target call", \.targetCallSeconds),
        ConfigurationKey(
            name: "tokens",
            help: "query tokens: TOKEN=SITE,SITE;TOKEN=* (empty: loopback clients only)",
            apply: { (config, text) throws(ConfigurationError) in config.tokens = try parseTokens(text) },
            current: { $0.tokens.map { "\($0.name)" }.joined(separator: ";") }),
        int("query_in_flight_max", "requests answered per flush on a query connection (HelloResponse.in_flight_max)",
            \.queryInFlightMax),
        int("response_bytes_max", "largest query response payload", \.responseBytesMax),
        int("shutdown_timeout_ms", "longest graceful shutdown", \.shutdownTimeoutMs),
        string("log_level", "trace, debug, info, notice, warning, error, critical", \.logLevel),
        choice(
            "log_format", "text (one line per message: time, level, label, message, metadata) or json (one JSON object per line, for log shippers)",
            \.logFormat),
        ConfigurationKey(
            name: "cluster_nats_urls", help: "cluster mode: the JetStream servers, nats://host:port,… (empty: a single node, no NATS)",
            apply: { (config, text) throws(ConfigurationError) in config.clusterNATSURLs = text.trimmingCharacters(in: .whitespaces) },
            current: { $0.clusterNATSURLs }),
        string("cluster_nats_user", "cluster mode: NATS user (with cluster_nats_password)", \.clusterNATSSecurity.user),
        ConfigurationKey(
            name: "cluster_nats_password", help: "cluster mode: NATS password of cluster_nats_user (shown as *** by --print-config)",
            apply: { (config, text) throws(ConfigurationError) in config.clusterNATSSecurity.password = text },
            current: { $0.clusterNATSSecurity.password.isEmpty ? "" : "***" }),
        string("cluster_nats_credentials_file", "cluster mode: NATS .creds file (user JWT and NKey seed)", \.clusterNATSSecurity.credentialsFile),
        string("cluster_nats_ca_file", "cluster mode: PEM CA of the NATS servers' certificates; set, the connections use TLS", \.clusterNATSSecurity.caFile),
        string("cluster_nats_cert_file", "cluster mode: PEM client certificate for NATS servers that verify clients (with cluster_nats_key_file)", \.clusterNATSSecurity.certificateFile),
        string("cluster_nats_key_file", "cluster mode: PEM key of cluster_nats_cert_file", \.clusterNATSSecurity.keyFile),
        string("cluster_peer_ca_file", "cluster mode with TLS on the query or intake port: PEM CA of the other nodes' certificates, trusted when a node forwards a query or a lease to another (which then sees this node's tls_cert_file as its client certificate)", \.clusterPeerCAFile),
        string("cluster_node", "cluster mode: this node's name (message ids, logs, metrics)", \.clusterNode),
        ConfigurationKey(
            name: "cluster_advertise_host", help: "cluster mode: the address other nodes reach this one at (empty: host, or the machine's name when host is 0.0.0.0)",
            apply: { (config, text) throws(ConfigurationError) in config.clusterAdvertiseHost = text.trimmingCharacters(in: .whitespaces) },
            current: { $0.clusterAdvertiseHost }),
        int("cluster_replicas", "cluster mode: NATS servers each partition's stream is kept on (1, 3 or 5)", \.clusterReplicas),
        ConfigurationKey(
            name: "cluster_partitions", help: "cluster mode: partitions (shards) this node holds and applies, 0,1,… (empty: all)",
            apply: { (config, text) throws(ConfigurationError) in
                let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                var partitions: [Int] = []
                for part in parts {
                    guard let partition = Int(part), partition >= 0 else {
                        throw .invalidValue(key: "cluster_partitions", value: text, reason: "partition numbers, comma-separated: 0,2")
                    }
                    partitions.append(partition)
                }
                config.clusterPartitions = Array(Set(partitions)).sorted()
            },
            current: { $0.clusterPartitions.map(String.init).joined(separator: ",") }),
        int("cluster_read_wait_ms", "cluster mode and ack_after = log: how long a query with min_position waits for this node to apply that far", \.clusterReadWaitMs),
        int("cluster_publish_wait_ms", "cluster mode: how long a collector waits for the stream's ack before STORE_UNAVAILABLE", \.clusterPublishWaitMs),
        int("cluster_apply_entries_max", "cluster mode: log entries applied per LMDB transaction, at most", \.clusterApplyEntriesMax),
        int("cluster_stream_max_age_hours", "cluster mode: how long each partition's stream keeps entries", \.clusterStreamMaxAgeHours),
        int("cluster_stream_max_bytes", "cluster mode: bytes each partition's stream keeps at most (0: no bound but age)", \.clusterStreamMaxBytes),
    ]

    /// The key named `name`, if there is one.
    public static func named(_ name: String) -> ConfigurationKey? {
        all.first { $0.name == name }
    }

    // MARK: Sources

    /// Applies a JSON config file: one object whose keys are setting names.
    /// `tokens` may also be an array of `{"token": …, "sites": [1, 2], "name": …}`.
    public static func applyFile(_ path: String, to config: inout ServerConfiguration) throws(ConfigurationError) {
        let object: [String: Any]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigurationError.unreadableFile(path: path, reason: "not a JSON object")
            }
            object = parsed
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw .unreadableFile(path: path, reason: "\(error.localizedDescription)")
        }
        for name in object.keys.sorted() {
            let value = object[name]!
            if name.hasPrefix("_") { continue }  // "_comment" and friends
            guard let key = named(name) else { throw .unknownKey(name, source: path) }
            if ["junk_phones", "site_domains", "referral_exclusions"].contains(name), let bySite = value as? [String: [String]] {
                try key.apply(&config, bySite.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: ";"))
                continue
            }
            if name == "number_pools" || name == "webhooks", JSONSerialization.isValidJSONObject(value),
                let data = try? JSONSerialization.data(withJSONObject: value)
            {
                try key.apply(&config, String(decoding: data, as: UTF8.self))
                continue
            }
            if name == "tokens", let grants = value as? [[String: Any]] {
                config.tokens = try grants.map { (grant) throws(ConfigurationError) in try tokenGrant(grant) }
                continue
            }
            try key.apply(&config, "\(value)")
        }
    }

    /// Applies every `STITCH_<NAME>` variable of `environment`; other
    /// `STITCH_` variables that name no setting are refused.
    public static func applyEnvironment(
        _ environment: [String: String],
        to config: inout ServerConfiguration
    ) throws(ConfigurationError) {
        // These belong to the tests (seed, kill cycles), not to the server.
        let ignored: Set<String> = ["STITCH_TEST_SEED", "STITCH_KILL_CYCLES"]
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("STITCH_") {
            if ignored.contains(variable) { continue }
            guard let key = all.first(where: { $0.environmentName == variable }) else {
                throw .unknownKey(variable, source: "the environment")
            }
            try key.apply(&config, value)
        }
    }

    /// Applies one `name=value` assignment (the CLI's `--set`).
    public static func applyAssignment(_ assignment: String, to config: inout ServerConfiguration) throws(ConfigurationError) {
        guard let equals = assignment.firstIndex(of: "=") else {
            throw .invalidValue(key: assignment, value: "", reason: "expected name=value")
        }
        let name = String(assignment[..<equals])
        guard let key = named(name) else { throw .unknownKey(name, source: "--set") }
        try key.apply(&config, String(assignment[assignment.index(after: equals)...]))
    }

    // MARK: Builders

    private static func string(
        _ name: String, _ help: String, _ path: WritableKeyPath<ServerConfiguration, String> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, help: help,
            apply: { (config, text) throws(ConfigurationError) in
                guard !text.isEmpty else { throw .invalidValue(key: name, value: text, reason: "must not be empty") }
                config[keyPath: path] = text
            }, current: { $0[keyPath: path] })
    }

    /// A setting whose values are an enumeration's raw values.
    private static func choice<Value: RawRepresentable<String> & CaseIterable & Sendable>(
        _ name: String, _ help: String, _ path: WritableKeyPath<ServerConfiguration, Value> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, help: help,
            apply: { (config, text) throws(ConfigurationError) in
                guard let value = Value(rawValue: text) else {
                    let names = Value.allCases.map(\.rawValue)
                    throw .invalidValue(
                        key: name, value: text, reason: names.dropLast().joined(separator: ", ") + " or " + names.last!)
                }
                config[keyPath: path] = value
            }, current: { $0[keyPath: path].rawValue })
    }

    private static func int(
        _ name: String, _ help: String, _ path: WritableKeyPath<ServerConfiguration, Int> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, help: help,
            apply: { (config, text) throws(ConfigurationError) in
                guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw .invalidValue(key: name, value: text, reason: "not an integer")
                }
                config[keyPath: path] = value
            }, current: { String($0[keyPath: path]) })
    }

    static func parseTokens(_ text: String) throws(ConfigurationError) -> [TokenGrant] {
        var grants: [TokenGrant] = []
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw .invalidValue(key: "tokens", value: String(entry), reason: "expected TOKEN=SITE,SITE or TOKEN=*")
            }
            grants.append(TokenGrant(token: parts[0], sites: try parseSites(parts[1])))
        }
        return grants
    }

    static func parseJunkPhones(_ text: String) throws(ConfigurationError) -> [UInt32: [String]] {
        var result: [UInt32: [String]] = [:]
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let site = UInt32(parts[0]), site > 0 else {
                throw .invalidValue(key: "junk_phones", value: String(entry), reason: "expected SITE=PHONE,PHONE")
            }
            result[site, default: []].append(contentsOf: parts[1].split(separator: ",").map(String.init))
        }
        return result
    }

    /// `SITE=domain,domain;SITE=…`: lower-case host names, no scheme or path.
    static func parseSiteDomains(_ text: String, key: String) throws(ConfigurationError) -> [UInt32: [String]] {
        var result: [UInt32: [String]] = [:]
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let domains = parts.count == 2 ? parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } : []
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
            guard parts.count == 2, let site = UInt32(parts[0]), site > 0, !domains.isEmpty,
                domains.allSatisfy({ $0.contains(".") && $0.allSatisfy(allowed.contains) && !$0.hasPrefix(".") && !$0.hasSuffix(".") })
            else {
                throw .invalidValue(key: key, value: String(entry), reason: "expected SITE=domain.example,other.example (host names only)")
            }
            result[site, default: []].append(contentsOf: domains)
        }
        return result
    }

    static func parseCORSOrigins(_ text: String) throws(ConfigurationError) -> [UInt32: [String]] {
        var result: [UInt32: [String]] = [:]
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let origins = parts.count == 2 ? parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
            guard parts.count == 2, let site = UInt32(parts[0]), site > 0, !origins.isEmpty,
                origins.allSatisfy({ $0 == "*" || (($0.hasPrefix("https://") || $0.hasPrefix("http://")) && !$0.hasSuffix("/")) })
            else {
                throw .invalidValue(key: "cors_origins", value: String(entry), reason: "expected SITE=https://host[:port],… or SITE=* (no path, no trailing slash)")
            }
            result[site] = origins
        }
        return result
    }

    /// `SITE=RATE;…;*=RATE`: rates by site, `*` stored as site 0 (never a site).
    static func parseSiteRates(_ text: String, key: String) throws(ConfigurationError) -> [UInt32: Int] {
        try parseRates(text, key: key, form: "SITE=RATE", parseKey: parseSite)
    }

    /// `NAME=RATE;…;*=RATE`: rates by name, `*` for every other name.
    static func parseNamedRates(_ text: String, key: String) throws(ConfigurationError) -> [String: Int] {
        try parseRates(text, key: key, form: "NAME=RATE") { $0.isEmpty ? nil : $0 }
    }

    /// A site number, or `*` (0) for every site not named.
    static func parseSite(_ text: String) -> UInt32? {
        text == "*" ? 0 : UInt32(text).flatMap { $0 > 0 ? $0 : nil }
    }

    /// `KEY=RATE;…` with rates of at least 1, keys read by `parseKey` (nil: refused).
    private static func parseRates<Key: Hashable>(
        _ text: String, key: String, form: String, parseKey: (String) -> Key?
    ) throws(ConfigurationError) -> [Key: Int] {
        var result: [Key: Int] = [:]
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let name = parseKey(parts[0]), let rate = Int(parts[1]), rate >= 1 else {
                throw .invalidValue(key: key, value: String(entry), reason: "expected \(form) (\(form.split(separator: "=")[0]) may be *), the value at least 1")
            }
            result[name] = rate
        }
        return result
    }

    static func parseShardSites(_ text: String) throws(ConfigurationError) -> [UInt32: Int] {
        var result: [UInt32: Int] = [:]
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let site = UInt32(parts[0]), site > 0, let shard = Int(parts[1]), shard >= 0 else {
                throw .invalidValue(key: "shard_sites", value: String(entry), reason: "expected SITE=SHARD (shards count from 0)")
            }
            result[site] = shard
        }
        return result
    }

    static func parseHubSites(_ text: String, key: String) throws(ConfigurationError) -> [UInt32: HubRule] {
        var result: [UInt32: HubRule] = [:]
        for entry in text.split(separator: ";") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let rule = parts.count == 2 ? parts[1].split(separator: "/").map { Int64($0.trimmingCharacters(in: .whitespaces)) } : []
            guard parts.count == 2, let site = UInt32(parts[0]), site > 0, rule.count == 2,
                let links = rule[0], let period = rule[1], links >= 0, links <= Int64(UInt16.max) - 1, period > 0
            else {
                throw .invalidValue(key: key, value: String(entry), reason: "expected SITE=LINKS_MAX/PERIOD_MS")
            }
            result[site] = HubRule(linksMax: Int(links), periodMs: period)
        }
        return result
    }

    private static func parseSites(_ text: String) throws(ConfigurationError) -> [UInt32] {
        if text == "*" { return [] }
        var sites: [UInt32] = []
        for part in text.split(separator: ",") {
            guard let site = UInt32(part), site > 0 else {
                throw .invalidValue(key: "tokens", value: text, reason: "sites are positive integers, or * for all")
            }
            sites.append(site)
        }
        guard !sites.isEmpty else { throw .invalidValue(key: "tokens", value: text, reason: "no sites") }
        return sites
    }

    /// Whether a parsed JSON value was `true`/`false` (Foundation bridges
    /// JSON booleans and numbers into NSNumber alike; `1 as? Bool` succeeds).
    private static func isJSONBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// One grant of a config file's `tokens` list. Admin is said in so many
    /// words (`"admin": true` or `"sites": "*"`); anything else must list
    /// positive site numbers. A typo (`"site"`), a number or string where a
    /// list belongs, or an empty list stops the start and names the grant,
    /// since each of them used to make an admin token by accident.
    static func tokenGrant(_ object: [String: Any]) throws(ConfigurationError) -> TokenGrant {
        let label = (object["name"] as? String).map { "token \"\($0)\"" } ?? "a token grant"
        func refuse(_ why: String) -> ConfigurationError {
            .invalidValue(key: "tokens", value: label, reason: why)
        }
        guard let token = object["token"] as? String, !token.isEmpty else {
            throw refuse("each grant needs a non-empty \"token\"")
        }
        let known: Set<String> = ["token", "sites", "admin", "name"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw refuse("unknown field \"\(unknown)\" (fields: token, sites, admin, name)")
        }
        let name = object["name"] as? String ?? ""
        let admin: Bool
        switch object["admin"] {
        case nil: admin = false
        case let flag as NSNumber where isJSONBoolean(flag): admin = flag.boolValue
        default: throw refuse("\"admin\" is true or false")
        }
        switch object["sites"] {
        case let star as String where star == "*":
            return TokenGrant(token: token, sites: [], name: name)
        case nil where admin:
            return TokenGrant(token: token, sites: [], name: name)
        case let list as [Any] where !admin:
            var sites: [UInt32] = []
            for item in list {
                guard let number = item as? NSNumber, !isJSONBoolean(number),
                    let site = UInt32(exactly: number.doubleValue), site > 0
                else { throw refuse("\"sites\" lists positive site numbers; found \(item)") }
                sites.append(site)
            }
            guard !sites.isEmpty else { throw refuse("\"sites\" is empty: list sites, or say \"admin\": true") }
            return TokenGrant(token: token, sites: sites, name: name)
        case nil:
            throw refuse("no \"sites\": list the sites it may read, or say \"admin\": true (or \"sites\": \"*\")")
        default:
            throw refuse(admin
                ? "an admin token lists no sites"
                : "\"sites\" is a list of site numbers or \"*\"; found \(object["sites"]!)")
        }
    }
}
