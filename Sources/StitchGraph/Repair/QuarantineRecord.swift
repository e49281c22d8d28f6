import StitchIdentity

/// Why an identifier is quarantined, kept in the `quarantine` table under its
/// node id (big-endian).
///
/// ```
/// u8 source, u8 flags, u16 links (LE), i64 since ms, u64 cause event,
/// [flags bit 0: i64 owner-before ms (LE)], then the reason (UTF-8)
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
    /// A shared device's first owner: events before this time (ms, event
    /// time) that carried the identifier still belong together — the
    /// person who had the device before it was shared keeps that history
    /// (`PersonRepair`). 0 = none: the identifier links nothing at all.
    public var ownerBeforeMs: Int64

    /// Why a link to the identifier was refused, as `explain` and the person
    /// graph say it: "quarantined (source: reason)".
    var refusalReason: String {
        "quarantined (\(source)\(reason.isEmpty ? "" : ": " + reason))"
    }

    public init(source: Source, links: UInt16 = 0, sinceMs: Int64, causeEvent: UInt64 = 0, reason: String, ownerBeforeMs: Int64 = 0) {
        self.ownerBeforeMs = ownerBeforeMs
        self.source = source
        self.links = links
        self.sinceMs = sinceMs
        self.causeEvent = causeEvent
        self.reason = String(decoding: reason.utf8.prefix(GraphLimits.quarantineReasonBytesMax), as: UTF8.self)
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [source.rawValue, ownerBeforeMs != 0 ? 1 : 0]
        ByteCoding.appendLittleEndian(links, to: &bytes)
        ByteCoding.appendLittleEndian(sinceMs, to: &bytes)
        ByteCoding.appendLittleEndian(causeEvent, to: &bytes)
        if ownerBeforeMs != 0 { ByteCoding.appendLittleEndian(ownerBeforeMs, to: &bytes) }
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
        let hasOwner = bytes[1] & 1 != 0
        precondition(!hasOwner || bytes.count >= 28, "quarantine record of \(bytes.count) bytes with an owner time")
        ownerBeforeMs = hasOwner ? ByteCoding.littleEndian(bytes, at: 20, as: Int64.self) : 0
        reason = String(decoding: bytes[(hasOwner ? 28 : 20)...], as: UTF8.self)
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
