import StitchIdentity

/// One identifier's node in the `node` table (key: node id, big-endian).
///
/// Union-find fields (`parent`, `next`) link it into its person: `parent`
/// leads to the root (the person's id), `next` to the following member of
/// the person's circular ring. Person-wide totals (`kindCounts`, and so
/// `size`) are kept only at the root. Event statistics are kept per node and
/// count the events anchored at it, so an event updates one node (its newest
/// identifier, usually in the hot tail of the table) rather than its root.
///
/// The record is its stored bytes, read and written in place: decoding is one
/// copy out of the map and encoding is none.
///
/// Layout (little-endian), 116 bytes plus the value:
/// ```
///   0 u64 parent          8 u64 next
///  16 i64 firstSeenMs    24 i64 lastSeenMs
///  32 u32 site           36 u8  kind, 37 u8 flags, 38 u16 hub links
///  40 u32[7] events anchored here, by EventType
///  68 u32[9] identifiers in the person, by kind (root only; index = kind - 1)
/// 104 u16 value length, 106..107 reserved
/// 108 i64 hub window start (event time of the first link counted in `hubLinks`)
/// 116 value bytes (the normalized identifier value; none once erased)
/// ```
struct NodeRecord: Equatable {
    private(set) var bytes: [UInt8]

    static let fixedBytes = 116
    private static let anchoredOffset = 40
    private static let kindCountsOffset = 68

    /// A new singleton person: its own root and ring, holding one identifier.
    init(id: UInt64, site: UInt32, kind: IdentifierKind, value: some Collection<UInt8>, timeMs: Int64) {
        bytes = [UInt8](repeating: 0, count: Self.fixedBytes)
        bytes.append(contentsOf: value)
        parent = id
        next = id
        firstSeenMs = timeMs
        lastSeenMs = timeMs
        store(UInt32.self, at: 32, site)
        bytes[36] = kind.rawValue
        store(UInt16.self, at: 104, UInt16(value.count))
        setKindCount(kind, 1)
    }

    /// Copies a stored record out of the map.
    init(copying stored: UnsafeRawBufferPointer) {
        precondition(stored.count >= Self.fixedBytes, "node record of \(stored.count) bytes")
        bytes = Array(stored)
        let valueLength = Int(load(UInt16.self, at: 104))
        precondition(stored.count == Self.fixedBytes + valueLength, "node record length mismatch")
        precondition(IdentifierKind(rawValue: bytes[36]) != nil, "node record with unknown kind \(bytes[36])")
    }

    var parent: UInt64 {
        get { load(UInt64.self, at: 0) }
        set { store(UInt64.self, at: 0, newValue) }
    }

    var next: UInt64 {
        get { load(UInt64.self, at: 8) }
        set { store(UInt64.self, at: 8, newValue) }
    }

    var firstSeenMs: Int64 {
        get { load(Int64.self, at: 16) }
        set { store(Int64.self, at: 16, newValue) }
    }

    var lastSeenMs: Int64 {
        get { load(Int64.self, at: 24) }
        set { store(Int64.self, at: 24, newValue) }
    }

    var site: UInt32 { load(UInt32.self, at: 32) }

    /// Node states kept in the flags byte.
    struct Flags: OptionSet {
        let rawValue: UInt8
        /// The identifier links nothing: it is a person of its own (see `Quarantine`).
        static let quarantined = Flags(rawValue: 1)
        /// The identifier was erased: its value is gone and so is its ident
        /// entry; the node stays so that old person ids resolve to "no one".
        static let erased = Flags(rawValue: 2)
        /// An operator lifted its quarantine: the automatic rule leaves it alone.
        static let released = Flags(rawValue: 4)
    }

    var flags: Flags {
        get { Flags(rawValue: bytes[37]) }
        set { bytes[37] = newValue.rawValue }
    }

    var isQuarantined: Bool { flags.contains(.quarantined) }
    var isErased: Bool { flags.contains(.erased) }

    /// Links this identifier made between persons in its hub window (the
    /// shared-identifier rule's count; phones and e-mails only).
    var hubLinks: UInt16 {
        get { load(UInt16.self, at: 38) }
        set { store(UInt16.self, at: 38, newValue) }
    }

    var hubWindowStartMs: Int64 {
        get { load(Int64.self, at: 108) }
        set { store(Int64.self, at: 108, newValue) }
    }

    /// Turns the node into an erased tombstone: its own singleton person with
    /// no value, no counts and no events.
    mutating func erase(id: UInt64) {
        let kind = bytes[36], site = self.site
        bytes = [UInt8](repeating: 0, count: Self.fixedBytes)
        parent = id
        next = id
        store(UInt32.self, at: 32, site)
        bytes[36] = kind
        flags = .erased
    }

    /// Resets the person-wide counts to this node alone (a root of its own again).
    mutating func resetCounts() {
        for kind in IdentifierKind.allCases { setKindCount(kind, 0) }
        if !isErased { setKindCount(self.kind, 1) }
    }

    /// Clears the anchored-event counts (a repair recounts them).
    mutating func clearAnchored() {
        for type in EventType.allCases { store(UInt32.self, at: Self.anchoredOffset + 4 * type.rawValue, 0) }
    }
    var kind: IdentifierKind { IdentifierKind(rawValue: bytes[36])! }
    var value: ArraySlice<UInt8> { bytes[Self.fixedBytes...] }
    /// The identifier this node stands for (stored normalized).
    var identifier: NormalizedIdentifier {
        NormalizedIdentifier(uncheckedKind: kind, value: String(decoding: value, as: UTF8.self))
    }

    func anchored(_ type: EventType) -> UInt32 {
        load(UInt32.self, at: Self.anchoredOffset + 4 * type.rawValue)
    }

    mutating func addAnchored(_ type: EventType) {
        let offset = Self.anchoredOffset + 4 * type.rawValue
        store(UInt32.self, at: offset, load(UInt32.self, at: offset) &+ 1)
    }

    mutating func removeAnchored(_ type: EventType) {
        let offset = Self.anchoredOffset + 4 * type.rawValue
        store(UInt32.self, at: offset, load(UInt32.self, at: offset) &- 1)
    }

    var anchoredEvents: UInt64 {
        EventType.allCases.reduce(0) { $0 + UInt64(anchored($1)) }
    }

    func kindCount(_ kind: IdentifierKind) -> UInt32 {
        load(UInt32.self, at: Self.kindCountsOffset + 4 * (Int(kind.rawValue) - 1))
    }

    mutating func setKindCount(_ kind: IdentifierKind, _ count: UInt32) {
        store(UInt32.self, at: Self.kindCountsOffset + 4 * (Int(kind.rawValue) - 1), count)
    }

    /// Identifiers in the person; meaningful at the root only.
    var size: UInt64 {
        IdentifierKind.allCases.reduce(0) { $0 + UInt64(kindCount($1)) }
    }

    /// Adds another root's identifier counts into this root's.
    mutating func absorbCounts(of other: NodeRecord) {
        for kind in IdentifierKind.allCases {
            setKindCount(kind, kindCount(kind) + other.kindCount(kind))
        }
    }

    @inline(__always)
    private func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    @inline(__always)
    private mutating func store<T: FixedWidthInteger>(_: T.Type, at offset: Int, _ value: T) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}
