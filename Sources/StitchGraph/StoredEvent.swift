import StitchIdentity

/// How an event is stored in the `log` table (keyed by seq):
///
/// ```
/// u8    EventType (so history filters by type without reading the body)
/// i64   received time, ms (little-endian)
/// i64   event time, ms (little-endian; the index key holds it too)
/// u64   the sender's event id (0 = none; erasure removes its dedup entry)
/// u8    number of normalized identifiers, then for each:
///         u8 kind, u16 length (LE), value bytes
/// rest  the body, opaque to the graph (the beacon as received)
/// ```
enum StoredEvent {
    /// Encodes `event` into `bytes`, replacing what it held (the writer reuses one buffer).
    static func encode(_ event: PreparedEvent, into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(20 + event.identifiers.count * 24 + event.body.count)
        bytes.append(UInt8(event.type.rawValue))
        ByteCoding.appendLittleEndian(event.receivedMs, to: &bytes)
        ByteCoding.appendLittleEndian(event.timeMs, to: &bytes)
        ByteCoding.appendLittleEndian(event.eventID, to: &bytes)
        precondition(event.identifiers.count <= Int(UInt8.max))
        bytes.append(UInt8(event.identifiers.count))
        for identifier in event.identifiers {
            bytes.append(identifier.kind.rawValue)
            ByteCoding.appendLittleEndian(UInt16(identifier.value.utf8.count), to: &bytes)
            bytes.append(contentsOf: identifier.value.utf8)
        }
        bytes.append(contentsOf: event.body)
    }

    /// The server's receive time of a stored event.
    static func receivedMs(of stored: UnsafeRawBufferPointer) -> Int64 {
        ByteCoding.littleEndian(stored, at: 1, as: Int64.self)
    }

    /// The event time of a stored event.
    static func timeMs(of stored: UnsafeRawBufferPointer) -> Int64 {
        ByteCoding.littleEndian(stored, at: 9, as: Int64.self)
    }

    static func eventID(of stored: UnsafeRawBufferPointer) -> UInt64 {
        ByteCoding.littleEndian(stored, at: 17, as: UInt64.self)
    }

    static func type(of stored: UnsafeRawBufferPointer) -> EventType {
        guard let first = stored.first, let type = EventType(rawValue: Int(first)) else {
            preconditionFailure("stored event with unknown type byte")
        }
        return type
    }

    /// The stored event, copied out of the store's memory.
    static func decode(_ stored: UnsafeRawBufferPointer, seq: UInt64) -> EventRecord {
        var offset = 1
        let receivedMs = ByteCoding.littleEndian(stored, at: offset, as: Int64.self)
        let timeMs = ByteCoding.littleEndian(stored, at: offset + 8, as: Int64.self)
        offset += 24
        let count = Int(stored[offset])
        offset += 1
        var identifiers: [NormalizedIdentifier] = []
        identifiers.reserveCapacity(count)
        for _ in 0..<count {
            guard let kind = IdentifierKind(rawValue: stored[offset]) else {
                preconditionFailure("stored event \(seq) has an identifier of unknown kind \(stored[offset])")
            }
            let length = Int(ByteCoding.littleEndian(stored, at: offset + 1, as: UInt16.self))
            offset += 3
            let value = String(decoding: stored[offset..<offset + length], as: UTF8.self)
            offset += length
            identifiers.append(NormalizedIdentifier(uncheckedKind: kind, value: value))
        }
        return EventRecord(
            seq: seq, type: type(of: stored), timeMs: timeMs, receivedMs: receivedMs, identifiers: identifiers,
            body: Array(stored[offset...]), callMatch: nil)
    }
}
