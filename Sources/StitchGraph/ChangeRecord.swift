/// One entry of the append-only change log (the change feed served by
/// `merges since`): which identifiers form which person changed, and why.
///
/// Stored under its sequence number (big-endian), little-endian fields:
/// ```
/// u8 kind, u8 reason, u32 site, i64 time, u64 winner, u64 loser,
/// u64 cause event, u64 identifier node, u32 part count, u64[count] parts
/// ```
public struct ChangeRecord: Hashable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// `loser` joined `winner`.
        case merge = 0
        /// `winner` was re-derived from its events: it keeps its id (the part
        /// holding its oldest identifier) and `parts` are new persons.
        case split = 1
        /// `winner` was erased (on request, or by retention); it no longer exists.
        case erase = 2
    }

    /// Why the change happened; `linked` for a merge a beacon caused.
    public enum Reason: UInt8, Sendable {
        case linked = 0
        case quarantine = 1
        case unquarantine = 2
        case junk = 3
        case sharedIdentifier = 4
        case forget = 5
        /// The retention pass erased a person with no activity for its site's `retention_days`.
        case retention = 6
    }

    /// Position in the log, from 1; the change feed's cursor.
    public var seq: UInt64
    public var kind: Kind
    public var reason: Reason
    public var site: UInt32
    /// Merges: event time of the beacon that caused it; others: server time.
    public var timeMs: Int64
    /// Merges: the older person, which survives. Split and erase: the person changed.
    public var winner: UInt64
    /// Merges: the younger person, which resolves to `winner` from now on.
    public var loser: UInt64
    /// Seq of the event that linked them (or tipped the automatic rule); 0 = a request.
    public var causeEvent: UInt64
    /// The identifier whose quarantine, release or erasure caused the change.
    public var identifierNode: UInt64
    /// Split: the new persons (each named by its oldest identifier).
    public var parts: [UInt64]

    static let fixedBytes = 50

    /// A merge a beacon caused.
    init(mergeSeq seq: UInt64, site: UInt32, timeMs: Int64, winner: UInt64, loser: UInt64, causeEvent: UInt64, reason: Reason = .linked, identifierNode: UInt64 = 0) {
        self.init(seq: seq, kind: .merge, reason: reason, site: site, timeMs: timeMs, winner: winner, loser: loser, causeEvent: causeEvent, identifierNode: identifierNode, parts: [])
    }

    init(seq: UInt64, kind: Kind, reason: Reason, site: UInt32, timeMs: Int64, winner: UInt64, loser: UInt64 = 0, causeEvent: UInt64 = 0, identifierNode: UInt64 = 0, parts: [UInt64] = []) {
        self.seq = seq
        self.kind = kind
        self.reason = reason
        self.site = site
        self.timeMs = timeMs
        self.winner = winner
        self.loser = loser
        self.causeEvent = causeEvent
        self.identifierNode = identifierNode
        self.parts = parts
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [kind.rawValue, reason.rawValue]
        bytes.reserveCapacity(Self.fixedBytes + 8 * parts.count)
        ByteCoding.appendLittleEndian(site, to: &bytes)
        ByteCoding.appendLittleEndian(timeMs, to: &bytes)
        ByteCoding.appendLittleEndian(winner, to: &bytes)
        ByteCoding.appendLittleEndian(loser, to: &bytes)
        ByteCoding.appendLittleEndian(causeEvent, to: &bytes)
        ByteCoding.appendLittleEndian(identifierNode, to: &bytes)
        ByteCoding.appendLittleEndian(UInt32(parts.count), to: &bytes)
        for part in parts { ByteCoding.appendLittleEndian(part, to: &bytes) }
        return bytes
    }

    init(seq: UInt64, decoding bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= Self.fixedBytes, "change record of \(bytes.count) bytes")
        guard let kind = Kind(rawValue: bytes[0]), let reason = Reason(rawValue: bytes[1]) else {
            preconditionFailure("change record \(seq) of unknown kind \(bytes[0]) or reason \(bytes[1])")
        }
        let count = Int(ByteCoding.littleEndian(bytes, at: 46, as: UInt32.self))
        precondition(bytes.count == Self.fixedBytes + 8 * count, "change record \(seq) has a bad part count")
        self.init(
            seq: seq, kind: kind, reason: reason,
            site: ByteCoding.littleEndian(bytes, at: 2, as: UInt32.self),
            timeMs: ByteCoding.littleEndian(bytes, at: 6, as: Int64.self),
            winner: ByteCoding.littleEndian(bytes, at: 14, as: UInt64.self),
            loser: ByteCoding.littleEndian(bytes, at: 22, as: UInt64.self),
            causeEvent: ByteCoding.littleEndian(bytes, at: 30, as: UInt64.self),
            identifierNode: ByteCoding.littleEndian(bytes, at: 38, as: UInt64.self),
            parts: (0..<count).map { ByteCoding.littleEndian(bytes, at: Self.fixedBytes + 8 * $0, as: UInt64.self) })
    }
}
