import StitchIdentity
import StitchStore

/// A union the guards refused, kept for audit and for `explain`.
///
/// Stored under its sequence number as 38 bytes, little-endian: person a u64,
/// person b u64 (the two roots at the time), time i64, cause event u64,
/// site u32, reason u8, reserved u8.
public struct ConflictRecord: Hashable, Sendable {
    /// Position in the conflict log, from 1.
    public var seq: UInt64
    public var site: UInt32
    public var timeMs: Int64
    public var personA: UInt64
    public var personB: UInt64
    public var causeEvent: UInt64
    /// The guard that refused the union.
    public var reason: ConflictReason

    static let byteCount = 38

    init(seq: UInt64, site: UInt32, timeMs: Int64, personA: UInt64, personB: UInt64, causeEvent: UInt64, reason: ConflictReason) {
        self.seq = seq
        self.site = site
        self.timeMs = timeMs
        self.personA = personA
        self.personB = personB
        self.causeEvent = causeEvent
        self.reason = reason
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        ByteCoding.appendLittleEndian(personA, to: &bytes)
        ByteCoding.appendLittleEndian(personB, to: &bytes)
        ByteCoding.appendLittleEndian(timeMs, to: &bytes)
        ByteCoding.appendLittleEndian(causeEvent, to: &bytes)
        ByteCoding.appendLittleEndian(site, to: &bytes)
        bytes.append(reason.code)
        bytes.append(0)
        return bytes
    }

    init(seq: UInt64, decoding bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "conflict record of \(bytes.count) bytes")
        self.seq = seq
        personA = ByteCoding.littleEndian(bytes, at: 0, as: UInt64.self)
        personB = ByteCoding.littleEndian(bytes, at: 8, as: UInt64.self)
        timeMs = ByteCoding.littleEndian(bytes, at: 16, as: Int64.self)
        causeEvent = ByteCoding.littleEndian(bytes, at: 24, as: UInt64.self)
        site = ByteCoding.littleEndian(bytes, at: 32, as: UInt32.self)
        guard let reason = ConflictReason(code: bytes[36]) else {
            preconditionFailure("conflict record with unknown reason \(bytes[36])")
        }
        self.reason = reason
    }
}

extension ConflictRecord {
    /// Appends the record to `conflict` and lists it under both persons'
    /// nodes in `nconflict` (the one place conflicts are written).
    func store(_ tables: IdentityGraph.Tables, _ txn: borrowing Transaction) throws {
        try txn.put(tables.conflict, StoreKeys.seqKey(seq), encoded(), append: true)
        for key in indexKeys { try txn.put(tables.conflictByNode, key, []) }
    }

    /// Its `nconflict` entries: under person a, and under person b.
    var indexKeys: [[UInt8]] {
        let a = StoreKeys.conflictByNodeKey(node: personA, seq: seq)
        return personB == personA ? [a] : [a, StoreKeys.conflictByNodeKey(node: personB, seq: seq)]
    }
}
