/// When the collector acknowledges a TCP batch (`ack_after`).
public enum AckAfter: String, Sendable, CaseIterable {
    /// Once its beacons are applied and committed to the store (and flushed
    /// as `durability` says): the ack counts the beacons already stored
    /// (`repeated`) and suppressed, and a lookup sent after it sees them.
    case commit
    /// Once its beacons are in the shard's group log, on disk
    /// (`durability = log` only); each shard's applier commits them to the
    /// store right behind, several groups per transaction (`LogFirstWriter`).
    /// The ack leaves `repeated` and `suppressed` at 0 (a resent beacon is
    /// still stored once: the apply drops it) and carries each shard's log
    /// position, which a query's `min_position` waits for — the cluster's
    /// read-your-writes, on one node.
    case log
}
