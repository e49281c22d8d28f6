import Crypto
import StitchWire
import SwiftProtobuf

/// An event id derived from a beacon's content, for imported lines that
/// carry none: the same line imported twice is the same event, so the
/// server's dedup stores it once.
enum ContentEventID {
    /// The first 8 bytes of SHA-256 over the beacon's deterministic protobuf
    /// encoding (never 0). Lines that differ only in JSON spelling (field
    /// order, names, int64 as string) encode alike and share an id.
    static func of(_ beacon: Stitch_V1_Beacon) -> UInt64 {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8]
        do {
            bytes = try beacon.serializedBytes(options: options)
        } catch {
            preconditionFailure("proto3 serialization cannot fail: \(error)")
        }
        let id = SHA256.hash(data: bytes).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        return id == 0 ? 1 : id
    }
}
