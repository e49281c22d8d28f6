import SwiftProtobuf
import StitchIdentity
import StitchWire

/// How an event is stored in the `event` table (the key holds anchor, time
/// and seq):
///
/// ```
/// u8    EventType (so history filters by type without decoding)
/// i64   received time, ms (little-endian)
/// u8    number of normalized identifiers, then for each:
///         u8 kind, u16 length (LE), value bytes
/// rest  the beacon as received (stitch.v1.Beacon protobuf)
/// ```
/// The beacon is kept as sent and its normalized identifiers beside it, so a
/// stored event costs one protobuf encoding and no copy of the message.
/// Reading it back puts the normalized identifiers in place of the raw ones.
enum StoredEvent {
    static func encode(
        _ beacon: Stitch_V1_Beacon,
        identifiers: [NormalizedIdentifier],
        type: EventType,
        receivedMs: Int64
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes.append(UInt8(type.rawValue))
        ByteCoding.appendLittleEndian(receivedMs, to: &bytes)
        precondition(identifiers.count <= Int(UInt8.max))
        bytes.append(UInt8(identifiers.count))
        for identifier in identifiers {
            bytes.append(identifier.kind.rawValue)
            ByteCoding.appendLittleEndian(UInt16(identifier.value.utf8.count), to: &bytes)
            bytes.append(contentsOf: identifier.value.utf8)
        }
        do {
            bytes.append(contentsOf: try beacon.serializedBytes() as [UInt8])
        } catch {
            preconditionFailure("proto3 serialization cannot fail: \(error)")
        }
        return bytes
    }

    static func type(of stored: UnsafeRawBufferPointer) -> EventType {
        guard let first = stored.first, let type = EventType(rawValue: Int(first)) else {
            preconditionFailure("stored event with unknown type byte")
        }
        return type
    }

    /// The event as the query protocol returns it.
    static func decode(_ stored: UnsafeRawBufferPointer, seq: UInt64) -> Stitch_V1_Event {
        var offset = 1
        let receivedMs = ByteCoding.littleEndian(stored, at: offset, as: Int64.self)
        offset += 8
        let count = Int(stored[offset])
        offset += 1
        var identifiers: [Stitch_V1_Identifier] = []
        for _ in 0..<count {
            let kind = stored[offset]
            let length = Int(ByteCoding.littleEndian(stored, at: offset + 1, as: UInt16.self))
            offset += 3
            let value = String(decoding: stored[offset..<offset + length], as: UTF8.self)
            offset += length
            identifiers.append(.with {
                $0.kind = Stitch_V1_IdentifierKind(rawValue: Int(kind)) ?? .unspecified
                $0.value = value
            })
        }
        var beacon: Stitch_V1_Beacon
        do {
            beacon = try Stitch_V1_Beacon(serializedBytes: RawSpan(_unsafeBytes: UnsafeRawBufferPointer(rebasing: stored[offset...])))
        } catch {
            preconditionFailure("stored event \(seq) does not decode: \(error)")
        }
        beacon.identifiers = identifiers
        return .with {
            $0.seq = seq
            $0.beacon = beacon
            $0.receivedMs = receivedMs
        }
    }
}
