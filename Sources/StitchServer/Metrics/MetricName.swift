/// Every metric the server exports, declared once: its Prometheus name, its
/// labels and what it counts. Code refers to metrics by these cases, never by
/// spelling a name again (the CLI's `load` and `stats` read them too).
public enum MetricName: String, CaseIterable, Sendable {
    // Ingest
    case beaconsReceived = "stitch_beacons_received_total"
    case beaconsAccepted = "stitch_beacons_accepted_total"
    case beaconsRejected = "stitch_beacons_rejected_total"
    case deviceClockBatches = "stitch_device_clock_batches_total"
    case framesRejected = "stitch_frames_rejected_total"
    case tcpBatches = "stitch_tcp_batches_total"
    case udpDatagrams = "stitch_udp_datagrams_total"
    case udpDroppedBeacons = "stitch_udp_dropped_beacons_total"
    case udpSocketErrors = "stitch_udp_socket_errors_total"
    case queueBeacons = "stitch_queue_beacons"
    case queueBeaconsMax = "stitch_queue_beacons_max"
    case batchAckSeconds = "stitch_batch_ack_seconds"
    case ingestConnections = "stitch_ingest_connections"
    case ingestReadsHeld = "stitch_ingest_connections_reads_held"
    // Writer
    case groupCommits = "stitch_group_commits_total"
    case groupBeacons = "stitch_group_beacons"
    case commitSeconds = "stitch_commit_seconds"
    case commitPages = "stitch_commit_pages"
    case commitStoreSeconds = "stitch_commit_store_seconds"
    case tlsPlaintextRefused = "stitch_tls_plaintext_refused_total"
    case tlsReloads = "stitch_tls_reloads_total"
    case tlsHandshakeFailures = "stitch_tls_handshake_failures_total"
    case pagesWritten = "stitch_pages_written_total"
    case commitFailures = "stitch_commit_failures_total"
    case syncFailures = "stitch_sync_failures_total"
    case syncSeconds = "stitch_sync_seconds"
    case groupLogAppendSeconds = "stitch_group_log_append_seconds"
    case eventsStored = "stitch_events_stored_total"
    case merges = "stitch_merges_total"
    case conflicts = "stitch_conflicts_total"
    case identifiersCreated = "stitch_identifiers_created_total"
    case identifiersRejected = "stitch_identifiers_rejected_total"
    case calls = "stitch_calls_total"
    case callsMatchedLate = "stitch_calls_matched_late_total"
    case storeBytes = "stitch_store_bytes"
    case mapBytes = "stitch_map_bytes"
    // Queries
    case querySeconds = "stitch_query_seconds"
    case queryErrors = "stitch_query_errors_total"
    case queryConnections = "stitch_query_connections"
    case leases = "stitch_leases_total"
    case leasePoolExhausted = "stitch_lease_pool_exhausted_total"
    case leaseRenewalsDropped = "stitch_lease_renewals_dropped_total"
    case leaseRenewalsApplied = "stitch_lease_renewals_applied_total"
    case leaseNumbers = "stitch_lease_numbers"
    case leaseNumbersTopAddresses = "stitch_lease_numbers_held_by_top_addresses"
    case beaconsRepeated = "stitch_beacons_repeated_total"
    case dedupExpiredReplaced = "stitch_dedup_expired_seen_again_total"
    case indexDeferred = "stitch_index_deferred_total"
    case indexOverlayRebuilds = "stitch_index_overlay_rebuilds_total"
    case indexWrittenBehind = "stitch_index_written_behind_total"
    case dedupPruned = "stitch_dedup_pruned_total"
    case connectionsRefused = "stitch_connections_refused_total"
    case connectionsTimedOut = "stitch_connections_timed_out_total"
    case helloFailures = "stitch_hello_failures_total"
    case staleReadersCleared = "stitch_stale_readers_cleared_total"
    case udpKernelDrops = "stitch_udp_kernel_drops"
    case intakeRefused = "stitch_intake_refused_total"
    case webhooks = "stitch_webhooks_total"
    case webhookFetches = "stitch_webhook_fetches_total"
    // Repair
    case quarantines = "stitch_quarantines_total"
    case personsSplit = "stitch_persons_split_total"
    case personsErased = "stitch_persons_erased_total"
    case personsExpired = "stitch_persons_expired_total"
    case beaconsSuppressed = "stitch_beacons_suppressed_total"
    // Cluster
    case logPublishes = "stitch_log_publishes_total"
    case logPublishSeconds = "stitch_log_publish_seconds"
    case logEntriesApplied = "stitch_log_entries_applied_total"
    case logAppliedSequence = "stitch_log_applied_sequence"
    case logLastSequence = "stitch_log_last_sequence"
    case logLagEntries = "stitch_log_lag_entries"
    case logApplyLagSeconds = "stitch_log_apply_lag_seconds"
    case logApplyStopped = "stitch_log_apply_stopped"
    case logReadWaits = "stitch_log_read_waits_total"
    case queryForwards = "stitch_query_forwards_total"
    case clusterSettingsMismatch = "stitch_cluster_settings_mismatch"

    /// The Prometheus name.
    public var name: String { rawValue }

    /// The label names the metric carries (values vary per series).
    public var labels: [String] {
        switch self {
        case .beaconsRejected, .conflicts, .identifiersRejected: ["reason"]
        case .framesRejected: ["reason", "transport"]
        case .calls: ["match"]
        case .deviceClockBatches: ["offset"]
        case .querySeconds: ["type"]
        case .queryErrors: ["type", "code"]
        case .leases: ["kind"]
        case .leasePoolExhausted: ["site"]
        case .leaseNumbers: ["site", "state"]
        case .leaseNumbersTopAddresses: ["site"]
        case .quarantines: ["source"]
        case .intakeRefused: ["endpoint", "status"]
        case .webhooks, .webhookFetches: ["provider", "outcome"]
        case .connectionsRefused, .connectionsTimedOut: ["port", "reason"]
        case .logPublishes, .logReadWaits, .queryForwards: ["outcome"]
        case .logAppliedSequence, .logLastSequence, .logLagEntries, .logApplyStopped: ["partition"]
        case .tlsPlaintextRefused, .tlsHandshakeFailures: ["port"]
        case .tlsReloads: ["result"]
        default: []
        }
    }

    /// What it measures, for operators (docs/metrics.md).
    public var help: String {
        switch self {
        case .beaconsReceived: "beacons in decoded batches, accepted or not"
        case .deviceClockBatches: "batches stamped by a visitor's device clock and re-based on the server's, by how far the device was off (under_1m, 1m_to_1h, over_1h; invalid: a sent_ms no time could be placed by)"
        case .beaconsAccepted: "beacons committed to the store"
        case .beaconsRejected: "beacons refused one by one, by wire reject reason"
        case .framesRejected: "frames refused as a whole, by reason and transport"
        case .tcpBatches: "frames received on TCP ingest connections"
        case .udpDatagrams: "UDP datagrams received"
        case .udpDroppedBeacons: "beacons of UDP datagrams dropped because the queue was full"
        case .udpSocketErrors: "errors reported on UDP sockets"
        case .queueBeacons: "beacons waiting for the writer"
        case .queueBeaconsMax: "beacons the writer's queue holds at most (queue_beacons_max)"
        case .batchAckSeconds: "time from a batch's arrival to its answer (ACK or refusal) going to its connection: queue wait plus group commit"
        case .ingestConnections: "open TCP ingest connections"
        case .ingestReadsHeld: "TCP ingest connections not being read: the queue is full, the client does not read its replies, or the server is stopping"
        case .groupCommits: "group commits by the writer"
        case .groupBeacons: "beacons per group commit"
        case .commitSeconds: "time to apply and commit one group"
        case .commitPages: "pages (4 KiB) one commit wrote to the data file: the distinct B-tree pages it dirtied"
        case .pagesWritten: "pages (4 KiB) the commits wrote to the data file"
        case .tlsPlaintextRefused: "plaintext connections refused on a TLS port (tls_plaintext = refuse), by port"
        case .tlsHandshakeFailures: "TLS connections that failed (handshake: an untrusted or expired certificate on either side), by port"
        case .tlsReloads: "TLS certificate reloads on SIGHUP, by result (ok, failed: the previous certificate stays)"
        case .commitStoreSeconds: "time one commit spent inside LMDB's commit, writing and syncing its pages; the rest of stitch_commit_seconds is applying the events"
        case .commitFailures: "group commits that failed (their batches are refused)"
        case .syncFailures: "periodic checkpoints that failed (nosync and log modes)"
        case .groupLogAppendSeconds: "time one shard's part of a group took to be encoded, written to its group log and flushed there, on the shard's log queue beside the part's apply; the commit waits for it (log mode)"
        case .syncSeconds: "time one periodic checkpoint took: every shard's committed pages flushed to disk and its snapshot saved (nosync and log modes; it runs beside the writer)"
        case .eventsStored: "events stored"
        case .merges: "persons merged"
        case .conflicts: "links refused by a guard, by reason"
        case .identifiersCreated: "identifiers seen for the first time"
        case .identifiersRejected: "identifier values refused by normalization, by reason"
        case .calls: "calls with a tracking number, by match (session or waiting)"
        case .callsMatchedLate: "waiting calls matched when a later event covered them"
        case .storeBytes: "bytes used in the LMDB map"
        case .mapBytes: "size of the LMDB map"
        case .querySeconds: "time to answer one query, by request type"
        case .queryErrors: "queries answered with an error, by type and code"
        case .queryConnections: "open query connections"
        case .leases: "lease answers, by kind: sticky, new, fallback, no_pool; refused on the public intake (the fallback shown): crawler, unknown_session, address_limit; renewals by open pages: renewed, capped (idle past lease_renewal_max_seconds), lapsed"
        case .leasePoolExhausted: "lease requests answered with the fallback number, by site"
        case .leaseRenewalsDropped: "renewals by open pages the allocator granted but the writer's full queue could not take (the stored lease waits for the next renewal)"
        case .leaseRenewalsApplied: "renewals by open pages the writer applied to stored leases (GET /v1/lease?renew=1 and lease_renewal beacons); they store no event"
        case .leaseNumbersTopAddresses: "each site's numbers held through the public intake by the 3 client addresses holding the most: near the pool's size, a few addresses drain it"
        case .leaseNumbers: "each site's dynamic numbers by state: active (the holder was active within the hold), open_page (held only by an open page's renewals), free"
        case .beaconsRepeated: "beacons recognised by their event id as already stored; not stored again"
        case .dedupExpiredReplaced: "beacons whose event id arrived before, longer ago than the dedup window: stored as new"
        case .indexDeferred: "event index entries of visits in progress the write-behind took, to write later in key order (index_write_behind_events)"
        case .indexOverlayRebuilds: "readers whose snapshot was older than every kept write-behind overlay and so rebuilt it from the snapshot's journal (tens of ms each); counted by the housekeeping every 10 s"
        case .indexWrittenBehind: "event index entries the write-behind wrote to the index, a slice per commit of beacons (a repair or erasure writes all it holds at once, uncounted)"
        case .dedupPruned: "remembered event ids forgotten as they left the dedup window"
        case .connectionsRefused: "connections closed at accept, by port and reason (limit, per_address)"
        case .connectionsTimedOut: "connections closed for idling or for holding a partial frame, by port and reason"
        case .helloFailures: "query hellos refused (wrong token, bad version)"
        case .staleReadersCleared: "LMDB reader slots of dead processes freed by the periodic reader check"
        case .webhooks: "webhook requests by provider and outcome: stored, repeated (all beacons already stored), refused (beacons rejected), skipped (an event not recorded), unauthenticated, forbidden, malformed, unavailable"
        case .webhookFetches: "entities fetched after a webhook that named them only (Bitrix24), by outcome: stored, retried (the portal failed or timed out; kept on disk and retried with backoff), dropped (not found, or given up)"
        case .intakeRefused: "HTTP intake requests refused, by endpoint and status (413 too large, 403 origin, 429 rate, 400 bad input)"
        case .quarantines: "identifiers quarantined, by source (manual, junk, automatic: the shared-identifier rule)"
        case .personsSplit: "new persons made by repairs (a split into three parts counts two)"
        case .personsErased: "persons erased on request (forget)"
        case .personsExpired: "persons erased by the retention pass (no activity for their site's retention_days)"
        case .beaconsSuppressed: "beacons not stored because they carry an erased identifier"
        case .logPublishes: "cluster log entries published, by outcome: stored, duplicate (JetStream had the message id), failed (no quorum ack in cluster_publish_wait_ms: the batches were refused STORE_UNAVAILABLE)"
        case .logPublishSeconds: "time to publish one group's entries and get every ack (a quorum of each stream's replicas)"
        case .logEntriesApplied: "cluster log entries this node applied to its shards (and, with ack_after = log, group-log records applied behind their acks)"
        case .logAppliedSequence: "the last log sequence this node applied, by partition (ack_after = log: by shard, in its group log)"
        case .logLastSequence: "the partition stream's last sequence as this node last saw it (ack_after = log: the shard's last group-log record)"
        case .logLagEntries: "entries of the partition's stream this node has not applied yet (ack_after = log: the shard's records acked and not applied yet)"
        case .logApplyLagSeconds: "time from an entry's publish (the publisher's clock) to its apply on this node (ack_after = log: from a group's log append to its apply)"
        case .logApplyStopped: "1 while this node refuses to apply a partition: its store is ahead of the stream, the stream lost entries it needs, or an entry could not be read (the log says which); with ack_after = log, while a shard's applier fails to commit and retries"
        case .logReadWaits: "queries with min_position that had to wait for this node's apply, by outcome: reached, timed_out (answered UNAVAILABLE), not_held"
        case .clusterSettingsMismatch: "cluster members whose settings that must be equal on every node (ServerConfiguration.clusterEqualKeys) differ from this node's"
        case .queryForwards: "queries this node sent on to another node, by outcome (answered, failed): the site's partition is held elsewhere, or a lease belongs to the partition's lease node"
        case .udpKernelDrops: "datagrams the kernel dropped on the collector's UDP sockets (receive buffer full), from /proc/net/udp"
        }
    }
}
