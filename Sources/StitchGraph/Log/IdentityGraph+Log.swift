import StitchIdentity
import StitchStore

/// One entry of the cluster's log, as the graph applies it: what one
/// `apply` would be given, with the entry's own clock.
public struct ApplySegment: Sendable {
    public var events: [PreparedEvent]
    public var renewals: [LeaseRenewal]
    /// The publisher's clock: the time of the changes the entry causes
    /// (an automatic quarantine's `sinceMs`), the same on every replica.
    public var nowMs: Int64
    /// A partition's first entry (its genesis) gives every replica the
    /// store's secret for hashing erased identifiers, so their erasure
    /// records and suppression lists are equal too.
    public var identifierSecret: [UInt8]?

    public init(events: [PreparedEvent], renewals: [LeaseRenewal] = [], nowMs: Int64, identifierSecret: [UInt8]? = nil) {
        self.events = events
        self.renewals = renewals
        self.nowMs = nowMs
        self.identifierSecret = identifierSecret
    }
}

/// A replica asked to apply an entry it has applied already, or to skip
/// one: its store and the log disagree (docs/cluster.md).
public struct LogSequenceError: Error, CustomStringConvertible, Sendable {
    public let applied: UInt64
    public let first: UInt64
    public var description: String {
        "the store has applied the log through sequence \(applied), so the next entry is \(applied + 1), not \(first)"
    }
}

extension IdentityGraph {
    /// A new random secret for a cluster partition's genesis entry.
    public static func newIdentifierSecret() -> [UInt8] { IdentifierHasher.newSecret() }

    /// Meta key of the last log sequence applied to this shard (8 bytes, big-endian).
    static let logSequenceKey = Array("log_sequence".utf8)

    /// The last sequence of the cluster log applied to this shard; 0 when
    /// none (a single node's store, or a replica that has applied nothing).
    public func appliedLogSequence() throws -> UInt64 {
        try environment.read { txn in try appliedLogSequence(txn) }
    }

    /// Forgets the applied sequence (back to 0): for a store whose group
    /// log is gone (`durability = log` switched off), so the number cannot
    /// be taken for a place in a cluster's log.
    public func forgetAppliedLogSequence() throws {
        try environment.write { txn in _ = try txn.delete(tables.meta, Self.logSequenceKey) }
    }

    func appliedLogSequence(_ txn: borrowing Transaction) throws -> UInt64 {
        guard let bytes = try txn.get(tables.meta, Self.logSequenceKey), bytes.count == 8 else { return 0 }
        return ByteCoding.bigEndian(bytes, at: 0, as: UInt64.self)
    }

    /// Applies consecutive log entries `first…first + segments.count − 1` in
    /// one write transaction and records the last as applied in it, so an
    /// entry is applied exactly once, whatever crashes.
    ///
    /// Each segment is applied as its own `apply` would be: a segment sees
    /// everything the earlier ones wrote, and its clock is its own. So the
    /// store after N entries is the same however they were grouped into
    /// transactions — what lets replicas that group differently (they apply
    /// at different speeds) end equal.
    ///
    /// `beforeCommit` runs inside the transaction, after the segments and
    /// before the commit; if it throws, nothing is written. `durability =
    /// log` waits there for its group log's append, which ran beside the
    /// apply, so the store never holds an entry its log may not (it may run
    /// again if the map had to grow).
    ///
    /// - Throws: `LogSequenceError` if `first` is not the entry after the
    ///   last applied one; nothing is written then.
    @discardableResult
    public func apply(
        segments: [ApplySegment], first: UInt64, beforeCommit: () throws -> Void = {}
    ) throws -> [ApplyReport] {
        var (reports, cost) = try writeApplying { txn in
            let applied = try appliedLogSequence(txn)
            guard first == applied + 1 else { throw LogSequenceError(applied: applied, first: first) }
            var reports: [ApplyReport] = []
            var pruned: [(id: DedupID, arrivalMs: Int64)] = []
            for (offset, segment) in segments.enumerated() {
                if let secret = segment.identifierSecret {
                    guard first + UInt64(offset) == 1, secret.count == IdentifierHasher.secretBytes else {
                        throw LogEntryRefusal(description: "a genesis entry (identifier secret) is valid only as a stream's first entry, with \(IdentifierHasher.secretBytes) bytes")
                    }
                    try txn.put(tables.meta, IdentifierHasher.secretMetaKey, secret)
                }
                let (report, segmentPruned) = try applySegment(
                    segment.events, renewals: segment.renewals, nowMs: segment.nowMs, txn)
                reports.append(report)
                pruned += segmentPruned
            }
            var last: [UInt8] = []
            ByteCoding.appendBigEndian(first + UInt64(segments.count) - 1, to: &last)
            try txn.put(tables.meta, Self.logSequenceKey, last)
            try beforeCommit()
            return (reports, pruned)
        }
        if segments.contains(where: { $0.identifierSecret != nil }) { try reloadIdentifierHasher() }
        // One commit for them all: its pages go with the last segment.
        if !reports.isEmpty { reports[reports.count - 1].commitCost = cost }
        return reports
    }
}

/// A log entry the graph will not apply (see `apply(segments:first:)`).
public struct LogEntryRefusal: Error, CustomStringConvertible, Sendable {
    public let description: String
}
