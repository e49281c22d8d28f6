import StitchIdentity

/// Table names and key layouts of the graph's LMDB environment.
///
/// ```
/// ident    site u32 | kind u8 | value          → node id u64 (LE)
/// node     node id u64                         → NodeRecord
/// event    anchor u64 | time u64* | seq u64    → type u8 (the per-person index)
/// log      seq u64                             → StoredEvent (the events, append-only)
/// change   seq u64                             → ChangeRecord (the change feed: merges, splits, erasures)
/// conflict seq u64                             → ConflictRecord
/// nconflict node id u64 | seq u64              → (): the conflicts naming the node as person a or b (schema 10)
/// meta     name (ASCII)                        → value
/// lease    session node u64                    → LeaseRecord (the session's current lease)
/// leasenum site u32 | number† | start* | session node u64 → end ms i64 (LE)
/// callwait site u32 | number† | time* | seq u64 → caller phone node u64, event time i64 (LE)
/// call     seq u64                             → CallMatch (the graph's own encoding)
/// dedup    'a' | arrival* | seq u64            → site u32 | event id u64: event ids remembered, by arrival (schema 8)
/// quarantine node id u64                       → QuarantineRecord (identifiers that link nothing)
/// qevent   node id u64 | seq u64               → (): events carrying a quarantined identifier
/// suppress HMAC-SHA256(secret, site|kind|value) → erasure seq u64 (LE): erased identifiers
/// erasure  seq u64                             → ErasureRecord (what a forget erased: counts, no values)
/// deal     'd' | site u32 | deal key           → contact value: the contact a deal was last seen with
///          'c' | site u32 | contact value | 0 | deal key → (): the same, by contact (for erasure)
/// ```
/// Integers in keys are big-endian; `time*` is the sortable form of a signed
/// time (`ByteCoding.sortableTime`). Events without any valid identifier use
/// anchor 0, which is never a node id. `number†` is a tracking number in
/// E.164 with a one-byte length in front, so one number's keys are contiguous.
/// `leasenum` lists every lease a number ever had, by start: a call at t is
/// matched by scanning back from t. `callwait` holds calls no lease covered
/// yet, until a late `number_shown` or hit makes one cover them.
///
/// Why events live in two tables: the writer appends every event to `log`
/// in seq order, so the bulk of each commit is sequential and dense; the
/// small `event` index entries keep a person's history in (time, seq) order.
/// Storing whole events under their anchor made every commit dirty a page
/// per active session, several times the bytes of the events themselves.
enum StoreKeys {
    static let ident = "ident"
    static let node = "node"
    static let event = "event"
    static let change = "change"
    static let conflict = "conflict"
    static let conflictByNode = "nconflict"
    static let meta = "meta"
    static let log = "log"
    static let lease = "lease"
    static let leaseNumber = "leasenum"
    static let dedup = "dedup"
    static let quarantine = "quarantine"
    static let quarantineEvent = "qevent"
    static let suppress = "suppress"
    static let erasure = "erasure"
    static let callWait = "callwait"
    static let call = "call"
    static let deal = "deal"
    /// Index entries the write-behind holds, by seq (`IndexOverlay`).
    static let eventJournal = "ejournal"
    static let allTables = [
        ident, node, event, log, change, conflict, conflictByNode, meta, lease, leaseNumber, callWait, call, dedup,
        quarantine, quarantineEvent, suppress, erasure, deal, eventJournal,
    ]

    /// The `deal` entry of a deal: `d`, site, then the deal key (`crm:id`).
    static func dealKey(site: UInt32, dealKey: some Collection<UInt8>) -> [UInt8] {
        var key: [UInt8] = [UInt8(ascii: "d")]
        ByteCoding.appendBigEndian(site, to: &key)
        key.append(contentsOf: dealKey)
        return key
    }

    /// The `deal` entries of one contact begin with this: `c`, site, the
    /// contact value and a 0 byte (values never hold one); the deal key follows.
    static func dealContactPrefix(site: UInt32, contact: some Collection<UInt8>) -> [UInt8] {
        var key: [UInt8] = [UInt8(ascii: "c")]
        ByteCoding.appendBigEndian(site, to: &key)
        key.append(contentsOf: contact)
        key.append(0)
        return key
    }

    /// The `deal` entry listing deal `dealKey` under its contact.
    static func dealContactKey(site: UInt32, contact: some Collection<UInt8>, dealKey: some Collection<UInt8>) -> [UInt8] {
        var key = dealContactPrefix(site: site, contact: contact)
        key.append(contentsOf: dealKey)
        return key
    }

    /// The first byte of every `dedup` key (schema 8 on): it tells them from
    /// the keys of schema 7 (20 bytes, beginning with a sortable event time)
    /// while `SchemaMigration` rewrites the table.
    static let dedupKeyPrefix: [UInt8] = [UInt8(ascii: "a")]

    /// Ordered by arrival, then seq: an entry is keyed by the arrival clock
    /// of the transaction that wrote it (never decreasing) and the seq of
    /// its first event (always increasing), so every new key is the table's
    /// largest — an append that fills pages — and pruning deletes from the
    /// head (see `BatchWriter+Dedup`).
    static func dedupKey(arrivalMs: Int64, seq: UInt64) -> [UInt8] {
        var key = dedupKeyPrefix
        key.reserveCapacity(17)
        ByteCoding.appendBigEndian(ByteCoding.sortableTime(arrivalMs), to: &key)
        ByteCoding.appendBigEndian(seq, to: &key)
        return key
    }

    static func isDedupKey(_ key: UnsafeRawBufferPointer) -> Bool {
        key.count == 17 && key[0] == dedupKeyPrefix[0]
    }

    static func decodeDedupKey(_ key: UnsafeRawBufferPointer) -> (arrivalMs: Int64, seq: UInt64) {
        precondition(isDedupKey(key), "not a dedup key: \(key.count) bytes")
        return (
            ByteCoding.time(fromSortable: ByteCoding.bigEndian(key, at: 1, as: UInt64.self)),
            ByteCoding.bigEndian(key, at: 9, as: UInt64.self)
        )
    }

    /// Bytes of one id in a `dedup` entry (schema 9): site u32, event id
    /// u64, and the event's seq as u32 past the key's seq.
    static let dedupRecordBytes = 16
    /// Bytes of a schema-8 `dedup` value: one id (site, event id), stored
    /// as the key's seq. Such entries are read as they are until pruned.
    static let dedupSingleBytes = 12
    /// Most ids in one `dedup` entry: 120 × 16 bytes with the key keeps an
    /// entry within LMDB's inline node limit on 4 KiB pages (2,038 bytes),
    /// so entries never need overflow pages, which LMDB allocates by
    /// searching its free list for contiguous runs.
    static let dedupRecordsPerEntryMax = 120

    /// Appends one id of a `dedup` entry whose key's seq is `firstSeq`.
    static func appendDedupRecord(_ id: DedupID, seq: UInt64, firstSeq: UInt64, to value: inout [UInt8]) {
        precondition(seq >= firstSeq && seq - firstSeq <= UInt64(UInt32.max), "seq \(seq) does not fit entry \(firstSeq)")
        ByteCoding.appendBigEndian(id.site, to: &value)
        ByteCoding.appendBigEndian(id.eventID, to: &value)
        ByteCoding.appendBigEndian(UInt32(seq - firstSeq), to: &value)
    }

    /// Whether `value` is a `dedup` value of schema 8 or 9.
    static func isDedupValue(_ value: UnsafeRawBufferPointer) -> Bool {
        value.count == dedupSingleBytes
            || (value.count > 0 && value.count % dedupRecordBytes == 0 && value.count / dedupRecordBytes <= dedupRecordsPerEntryMax)
    }

    /// Calls `body` with each id of a `dedup` entry and its event's seq: the
    /// records of schema 9, or schema 8's single id (the key's seq).
    static func forEachDedupRecord(
        _ value: UnsafeRawBufferPointer, firstSeq: UInt64, _ body: (DedupID, UInt64) throws -> Void
    ) rethrows {
        precondition(isDedupValue(value), "dedup value of \(value.count) bytes")
        if value.count == dedupSingleBytes {
            let id = DedupID(site: ByteCoding.bigEndian(value, at: 0, as: UInt32.self), eventID: ByteCoding.bigEndian(value, at: 4, as: UInt64.self))
            try body(id, firstSeq)
            return
        }
        for offset in stride(from: 0, to: value.count, by: dedupRecordBytes) {
            let id = DedupID(
                site: ByteCoding.bigEndian(value, at: offset, as: UInt32.self),
                eventID: ByteCoding.bigEndian(value, at: offset + 4, as: UInt64.self))
            try body(id, firstSeq + UInt64(ByteCoding.bigEndian(value, at: offset + 12, as: UInt32.self)))
        }
    }

    static func identKey(site: UInt32, kind: IdentifierKind, value: some Collection<UInt8>, into key: inout [UInt8]) {
        key.removeAll(keepingCapacity: true)
        ByteCoding.appendBigEndian(site, to: &key)
        key.append(kind.rawValue)
        key.append(contentsOf: value)
    }

    static func nodeKey(_ id: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(8)
        ByteCoding.appendBigEndian(id, to: &key)
        return key
    }

    /// The `nconflict` entry listing conflict `seq` under `node`: a node's
    /// conflicts are one contiguous run, so erasing a person reads its
    /// members' runs instead of every conflict ever recorded. The layout of
    /// `qevent` keys (`IdentityGraph.forEachSeq` reads both).
    static func conflictByNodeKey(node: UInt64, seq: UInt64) -> [UInt8] {
        quarantineEventKey(node: node, seq: seq)
    }

    /// Runs `body` with a node key's bytes (or a log or change key's: the same
    /// layout) on the stack. The writer reads and writes a few nodes per
    /// event; a key array each was a heap allocation and a free on its thread.
    static func withNodeKey<Result, Failure: Error>(
        _ id: UInt64, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var bigEndian = id.bigEndian
        return try withUnsafeBytes(of: &bigEndian) { (raw) throws(Failure) in try body(raw) }
    }

    static func logKey(_ seq: UInt64) -> [UInt8] {
        nodeKey(seq)  // the same layout: one big-endian u64
    }

    static func eventKey(anchor: UInt64, timeMs: Int64, seq: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(24)
        eventKey(anchor: anchor, timeMs: timeMs, seq: seq, into: &key)
        return key
    }

    /// The event key in `key`, replacing what it held (the writer reuses one buffer).
    static func eventKey(anchor: UInt64, timeMs: Int64, seq: UInt64, into key: inout [UInt8]) {
        key.removeAll(keepingCapacity: true)
        ByteCoding.appendBigEndian(anchor, to: &key)
        ByteCoding.appendBigEndian(ByteCoding.sortableTime(timeMs), to: &key)
        ByteCoding.appendBigEndian(seq, to: &key)
    }

    /// (anchor, time, seq) of an event key.
    static func decodeEventKey(_ key: UnsafeRawBufferPointer) -> (anchor: UInt64, timeMs: Int64, seq: UInt64) {
        precondition(key.count == 24, "event key of \(key.count) bytes")
        return (
            ByteCoding.bigEndian(key, at: 0, as: UInt64.self),
            ByteCoding.time(fromSortable: ByteCoding.bigEndian(key, at: 8, as: UInt64.self)),
            ByteCoding.bigEndian(key, at: 16, as: UInt64.self)
        )
    }

    static func seqKey(_ seq: UInt64) -> [UInt8] { nodeKey(seq) }

    /// A `qevent` key: quarantined node, then the event's seq.
    static func quarantineEventKey(node: UInt64, seq: UInt64) -> [UInt8] {
        var key = nodeKey(node)
        ByteCoding.appendBigEndian(seq, to: &key)
        return key
    }

    /// Site and tracking number: the prefix of `leasenum` and `callwait` keys.
    static func numberPrefix(site: UInt32, number: String) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(4 + 1 + number.utf8.count + 16)
        ByteCoding.appendBigEndian(site, to: &key)
        key.append(UInt8(clamping: number.utf8.count))
        key.append(contentsOf: number.utf8)
        return key
    }

    /// `prefix` followed by a sortable time and a u64 (session node or seq).
    static func numberKey(_ prefix: [UInt8], timeMs: Int64, _ id: UInt64) -> [UInt8] {
        var key = prefix
        ByteCoding.appendBigEndian(ByteCoding.sortableTime(timeMs), to: &key)
        ByteCoding.appendBigEndian(id, to: &key)
        return key
    }

    /// (time, id) of a `leasenum` or `callwait` key whose prefix is `prefixCount` bytes.
    static func decodeNumberKey(_ key: UnsafeRawBufferPointer, prefixCount: Int) -> (timeMs: Int64, id: UInt64) {
        (
            ByteCoding.time(fromSortable: ByteCoding.bigEndian(key, at: prefixCount, as: UInt64.self)),
            ByteCoding.bigEndian(key, at: prefixCount + 8, as: UInt64.self)
        )
    }

    /// Whether `key` is one of `prefix`'s `leasenum`/`callwait` keys.
    static func hasNumberPrefix(_ key: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        key.count == prefix.count + 16 && key.prefix(prefix.count).elementsEqual(prefix)
    }
}
