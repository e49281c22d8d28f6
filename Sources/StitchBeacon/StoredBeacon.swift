import SwiftProtobuf
import StitchIdentity
import StitchWire

/// The body the graph stores for a beacon: the `stitch.v1.Beacon` protobuf as
/// received. The graph keeps the normalized identifiers beside it, so reading
/// an event back puts those in place of the raw ones.
public enum StoredBeacon {
    /// The stored body of `beacon`: the beacon without its identifiers,
    /// which the graph stores normalized beside the body and `decode` puts
    /// back (the raw values were never served; leaving them out saves about a
    /// third of the bytes written per event and of the encoding).
    public static func encode(_ beacon: Stitch_V1_Beacon) -> [UInt8] {
        var body = beacon
        body.identifiers = []
        do {
            return try body.serializedBytes()
        } catch {
            preconditionFailure("proto3 serialization cannot fail: \(error)")
        }
    }

    /// The beacon stored as `body`, carrying `identifiers` (normalized) in
    /// place of the ones it was sent with. A body that does not decode is a
    /// corrupted store: the writer only stores what `encode` made.
    public static func decode(_ body: [UInt8], identifiers: [NormalizedIdentifier], seq: UInt64) -> Stitch_V1_Beacon {
        var beacon: Stitch_V1_Beacon
        do {
            beacon = try Stitch_V1_Beacon(serializedBytes: body)
        } catch {
            preconditionFailure("stored event \(seq) does not decode: \(error)")
        }
        beacon.identifiers = identifiers.map { identifier in
            .with {
                $0.kind = Stitch_V1_IdentifierKind(identifier.kind)
                $0.value = identifier.value
            }
        }
        return beacon
    }
}
