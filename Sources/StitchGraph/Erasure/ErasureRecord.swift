/// What one `forget` erased, kept in the `erasure` table under its seq: the
/// durable answer to "was this person erased, when, and how much" that holds
/// no erased value — only the keyed hash of the identifier asked for.
///
/// ```
/// i64 time ms, u32 site, u64 person id, u64 identifiers, u64 events,
/// u64 leases, u64 calls (all LE), then the 32-byte HMAC-SHA256
/// ```
public struct ErasureRecord: Hashable, Sendable {
    public var seq: UInt64
    public var timeMs: Int64
    public var site: UInt32
    /// The person erased (its id resolves to no one from now on).
    public var personID: UInt64
    public var identifiers: UInt64
    public var events: UInt64
    public var leases: UInt64
    public var calls: UInt64
    /// HMAC-SHA256 of the identifier asked for, under the store's secret.
    public var identifierHash: [UInt8]

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        ByteCoding.appendLittleEndian(timeMs, to: &bytes)
        ByteCoding.appendLittleEndian(site, to: &bytes)
        for value in [personID, identifiers, events, leases, calls] { ByteCoding.appendLittleEndian(value, to: &bytes) }
        bytes.append(contentsOf: identifierHash)
        return bytes
    }

    init(seq: UInt64, timeMs: Int64, site: UInt32, personID: UInt64, identifiers: UInt64, events: UInt64, leases: UInt64, calls: UInt64, identifierHash: [UInt8]) {
        self.seq = seq
        self.timeMs = timeMs
        self.site = site
        self.personID = personID
        self.identifiers = identifiers
        self.events = events
        self.leases = leases
        self.calls = calls
        self.identifierHash = identifierHash
    }

    init(seq: UInt64, decoding bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 52 + 32, "erasure record of \(bytes.count) bytes")
        self.seq = seq
        timeMs = ByteCoding.littleEndian(bytes, at: 0, as: Int64.self)
        site = ByteCoding.littleEndian(bytes, at: 8, as: UInt32.self)
        personID = ByteCoding.littleEndian(bytes, at: 12, as: UInt64.self)
        identifiers = ByteCoding.littleEndian(bytes, at: 20, as: UInt64.self)
        events = ByteCoding.littleEndian(bytes, at: 28, as: UInt64.self)
        leases = ByteCoding.littleEndian(bytes, at: 36, as: UInt64.self)
        calls = ByteCoding.littleEndian(bytes, at: 44, as: UInt64.self)
        identifierHash = Array(bytes[52...])
    }
}
