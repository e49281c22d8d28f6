import StitchGraph
import StitchIdentity

/// Encodes a shard's group-log record — a `stitch.v1.LogEntry` of events and
/// renewals (`proto/log.proto`) — straight from the prepared events, into one
/// buffer sized up front.
///
/// Why not build the `Stitch_V1_LogEntry` and serialize it: that makes a
/// message per event and per identifier, copies each body into `Data`, and
/// walks the tree twice through swift-protobuf's visitors — about six
/// allocations an event on the log queue, beside the writers, on every group.
///
/// The bytes are exactly swift-protobuf's for the same entry (fields in number
/// order, proto3 defaults left out, `optional` fields written whenever set),
/// so anything that reads a log entry reads these; `GroupLogEntryEncoderTests`
/// compares the two on random events.
public enum GroupLogEntryEncoder {
    /// The serialized `LogEntry` of format `LogEntryFormat.current`
    /// published at `publishedMs`, holding `events` and `renewals`.
    public static func encode(events: [PreparedEvent], renewals: [LeaseRenewal], publishedMs: Int64) -> [UInt8] {
        var eventSizes: [Int] = []
        eventSizes.reserveCapacity(events.count)
        var total = uintFieldSize(UInt64(LogEntryFormat.current)) + uintFieldSize(UInt64(bitPattern: publishedMs))
        for event in events {
            let size = eventSize(event)
            eventSizes.append(size)
            total += lengthDelimitedSize(size)
        }
        for renewal in renewals { total += lengthDelimitedSize(renewalSize(renewal)) }

        var out: [UInt8] = []
        out.reserveCapacity(total)
        appendUIntField(1, UInt64(LogEntryFormat.current), to: &out)
        appendUIntField(3, UInt64(bitPattern: publishedMs), to: &out)
        for (event, size) in zip(events, eventSizes) {
            appendTag(4, wireType: lengthDelimited, to: &out)
            appendVarint(UInt64(size), to: &out)
            appendEvent(event, to: &out)
        }
        for renewal in renewals {
            appendTag(5, wireType: lengthDelimited, to: &out)
            appendVarint(UInt64(renewalSize(renewal)), to: &out)
            appendRenewal(renewal, to: &out)
        }
        assert(out.count == total, "group log entry: \(out.count) bytes written, \(total) sized")
        return out
    }

    // MARK: Messages

    private static func eventSize(_ event: PreparedEvent) -> Int {
        var size = uintFieldSize(UInt64(event.site)) + uintFieldSize(event.eventID)
        size += uintFieldSize(UInt64(bitPattern: event.timeMs)) + uintFieldSize(UInt64(bitPattern: event.receivedMs))
        size += uintFieldSize(UInt64(event.type.rawValue))
        for identifier in event.identifiers { size += lengthDelimitedSize(identifierSize(identifier)) }
        size += bytesFieldSize(event.body.count)
        if let number = event.trackingNumber { size += lengthDelimitedSize(number.utf8.count) }
        size += uintFieldSize(UInt64(bitPattern: event.callStartMs))
        if let index = event.callerPhoneIndex { size += 1 + varintSize(UInt64(index)) }
        if let key = event.dealKey { size += lengthDelimitedSize(key.utf8.count) }
        if let index = event.dealContactIndex { size += 1 + varintSize(UInt64(index)) }
        return size
    }

    private static func appendEvent(_ event: PreparedEvent, to out: inout [UInt8]) {
        appendUIntField(1, UInt64(event.site), to: &out)
        appendUIntField(2, event.eventID, to: &out)
        appendUIntField(3, UInt64(bitPattern: event.timeMs), to: &out)
        appendUIntField(4, UInt64(bitPattern: event.receivedMs), to: &out)
        appendUIntField(5, UInt64(event.type.rawValue), to: &out)
        for identifier in event.identifiers {
            appendTag(6, wireType: lengthDelimited, to: &out)
            appendVarint(UInt64(identifierSize(identifier)), to: &out)
            appendUIntField(1, UInt64(identifier.kind.rawValue), to: &out)
            appendStringField(2, identifier.value, present: false, to: &out)
        }
        if !event.body.isEmpty {
            appendTag(7, wireType: lengthDelimited, to: &out)
            appendVarint(UInt64(event.body.count), to: &out)
            out.append(contentsOf: event.body)
        }
        if let number = event.trackingNumber { appendStringField(8, number, present: true, to: &out) }
        appendUIntField(9, UInt64(bitPattern: event.callStartMs), to: &out)
        if let index = event.callerPhoneIndex { appendUIntField(10, UInt64(index), present: true, to: &out) }
        if let key = event.dealKey { appendStringField(11, key, present: true, to: &out) }
        if let index = event.dealContactIndex { appendUIntField(12, UInt64(index), present: true, to: &out) }
    }

    private static func identifierSize(_ identifier: NormalizedIdentifier) -> Int {
        uintFieldSize(UInt64(identifier.kind.rawValue)) + bytesFieldSize(identifier.value.utf8.count)
    }

    private static func renewalSize(_ renewal: LeaseRenewal) -> Int {
        var size = uintFieldSize(UInt64(renewal.site)) + bytesFieldSize(renewal.session.utf8.count)
        size += uintFieldSize(UInt64(bitPattern: renewal.timeMs))
        if let number = renewal.trackingNumber { size += lengthDelimitedSize(number.utf8.count) }
        return size
    }

    private static func appendRenewal(_ renewal: LeaseRenewal, to out: inout [UInt8]) {
        appendUIntField(1, UInt64(renewal.site), to: &out)
        appendStringField(2, renewal.session, present: false, to: &out)
        appendUIntField(3, UInt64(bitPattern: renewal.timeMs), to: &out)
        if let number = renewal.trackingNumber { appendStringField(4, number, present: true, to: &out) }
    }

    // MARK: Wire format
    //
    // Every field number here is below 16, so every tag is one byte. Signed
    // fields (int64) are their two's complement as a 64-bit varint, as
    // protobuf writes them; uint32 values are zero-extended.

    private static let varint: UInt8 = 0
    private static let lengthDelimited: UInt8 = 2

    private static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    /// A proto3 scalar without presence: nothing when it is zero.
    private static func uintFieldSize(_ value: UInt64) -> Int {
        value == 0 ? 0 : 1 + varintSize(value)
    }

    /// A string or bytes field without presence: nothing when it is empty.
    private static func bytesFieldSize(_ count: Int) -> Int {
        count == 0 ? 0 : lengthDelimitedSize(count)
    }

    private static func lengthDelimitedSize(_ count: Int) -> Int {
        1 + varintSize(UInt64(count)) + count
    }

    private static func appendTag(_ field: UInt8, wireType: UInt8, to out: inout [UInt8]) {
        out.append(field << 3 | wireType)
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// `present`: an `optional` field that is set, written even when zero.
    private static func appendUIntField(_ field: UInt8, _ value: UInt64, present: Bool = false, to out: inout [UInt8]) {
        guard value != 0 || present else { return }
        appendTag(field, wireType: varint, to: &out)
        appendVarint(value, to: &out)
    }

    /// `present`: an `optional` field that is set, written even when empty.
    private static func appendStringField(_ field: UInt8, _ value: String, present: Bool, to out: inout [UInt8]) {
        let utf8 = value.utf8
        guard !utf8.isEmpty || present else { return }
        appendTag(field, wireType: lengthDelimited, to: &out)
        appendVarint(UInt64(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }
}
