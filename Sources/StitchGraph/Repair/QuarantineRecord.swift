import StitchIdentity

/// Why an identifier is quarantined, kept in the `quarantine` table under its
/// node id (big-endian).
///
/// ```
/// u8 source, u8 reserved, u16 links (LE), i64 since ms, u64 cause event, then the reason (UTF-8)
/// ```
public struct QuarantineRecord: Hashable, Sendable {
    public enum Source: UInt8, Sendable {
        /// A `quarantine` request.
        case manual = 1
        /// A declared junk value (junk_phones, a pool's office numbers).
        case junk = 2
        /// The shared-identifier rule (`HubRule`).
        case automatic = 3
    }

    public var source: Source
    /// Automatic: the links within the rule's period that tipped it.
    public var links: UInt16
    /// Server time the quarantine began.
    public var sinceMs: Int64
    /// Automatic: the event that tipped the rule; 0 otherwise.
    public var causeEvent: UInt64
    /// For operators (at most `GraphLimits.quarantineReasonBytesMax` bytes).
    public var reason: String

    public init(source: Source, links: UInt16 = 0, sinceMs: Int64, causeEvent: UInt64 = 0, reason: String) {
        self.source = source
        self.links = links
        self.sinceMs = sinceMs
        self.causeEvent = causeEvent
        self.reason = String(decoding: reason.utf8.prefix(GraphLimits.quarantineReasonBytesMax), as: UTF8.self)
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [source.rawValue, 0]
        ByteCoding.appendLittleEndian(links, to: &bytes)
        ByteCoding.appendLittleEndian(sinceMs, to: &bytes)
        ByteCoding.appendLittleEndian(causeEvent, to: &bytes)
        bytes.append(contentsOf: reason.utf8)
        return bytes
    }

    init(decoding bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 20, "quarantine record of \(bytes.count) bytes")
        guard let source = Source(rawValue: bytes[0]) else { preconditionFailure("quarantine record of unknown source \(bytes[0])") }
        self.source = source
        links = ByteCoding.littleEndian(bytes, at: 2, as: UInt16.self)
        sinceMs = ByteCoding.littleEndian(bytes, at: 4, as: Int64.self)
        causeEvent = ByteCoding.littleEndian(bytes, at: 12, as: UInt64.self)
        reason = String(decoding: bytes[20...], as: UTF8.self)
    }
}

/// A quarantined identifier as `shared` lists it.
public struct SharedIdentifier: Hashable, Sendable {
    public var identifier: NormalizedIdentifier
    /// Its node (its own person id while quarantined).
    public var node: UInt64
    public var firstSeenMs: Int64
    public var record: QuarantineRecord
    /// Events that carried it while quarantined (or when it was).
    public var events: UInt64
}
