import SwiftProtobuf
import StitchWire

/// How an event is stored in the `event` table: one byte of `EventType`
/// (so history filters by type without decoding), then the protobuf
/// `stitch.v1.Event`.
enum StoredEvent {
    static func encode(_ event: Stitch_V1_Event, type: EventType) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(type.rawValue)]
        do {
            bytes.append(contentsOf: try event.serializedBytes() as [UInt8])
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

    static func decode(_ stored: UnsafeRawBufferPointer) -> Stitch_V1_Event {
        do {
            return try Stitch_V1_Event(serializedBytes: RawSpan(_unsafeBytes: UnsafeRawBufferPointer(rebasing: stored.dropFirst())))
        } catch {
            preconditionFailure("stored event does not decode: \(error)")
        }
    }
}
