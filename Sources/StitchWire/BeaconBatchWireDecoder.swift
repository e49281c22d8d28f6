import SwiftProtobuf

/// Decodes `stitch.v1.BeaconBatch` by hand: the collector's hot path.
///
/// SwiftProtobuf's generic decoder spent about 44% of the event loops' time on
/// batches (CHANGELOG.md, "Throughput per core"); the schema is small and fixed, so
/// this walks the bytes once with no generic dispatch. It must give exactly
/// what SwiftProtobuf gives with `discardUnknownFields` — the same message, or
/// an error for the same input — and `BeaconBatchWireDecoderTests` holds it to
/// that on the golden vectors and on randomly mutated payloads:
/// - unknown fields are skipped (groups too), at every depth, and so is a
///   known field sent with another wire type;
/// - a field number 0, a truncated varint or length, a varint over 10 bytes,
///   an unknown wire type or invalid UTF-8 in a string is an error;
/// - a singular message field seen twice is merged (proto semantics), a
///   repeated one appended; scalars: the last value wins; enums keep unknown
///   values (`UNRECOGNIZED`), as proto3 says.
public enum BeaconBatchWireDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> Stitch_V1_BeaconBatch {
        var reader = WireReader(bytes)
        var batch = Stitch_V1_BeaconBatch()
        while let (field, wireType) = try reader.tag() {
            if field == 1 {
                guard let bytes = try reader.message(wireType) else { continue }
                var beacon = Stitch_V1_Beacon()
                try decodeBeacon(bytes, into: &beacon)
                batch.beacons.append(beacon)
            } else if field == 2 {
                try reader.int64(wireType, into: &batch.sentMs)
            } else if field == 3 {
                try reader.enumeration(wireType, into: &batch.clock)
            } else {
                try reader.skip(wireType)
            }
        }
        return batch
    }

    private static func decodeBeacon(_ bytes: UnsafeRawBufferPointer, into beacon: inout Stitch_V1_Beacon) throws(FrameError) {
        var reader = WireReader(bytes)
        while let (field, wireType) = try reader.tag() {
            switch field {
            case 1: try reader.uint32(wireType, into: &beacon.site)
            case 2: try reader.int64(wireType, into: &beacon.timeMs)
            case 3:
                var identifier = Stitch_V1_Identifier()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    switch field {
                    case 1: try fields.enumeration(wireType, into: &identifier.kind)
                    case 2: try fields.string(wireType, into: &identifier.value)
                    case 3: try fields.string(wireType, into: &identifier.namespace)
                    default: try fields.skip(wireType)
                    }
                }
                beacon.identifiers.append(identifier)
            case 4: try reader.uint64(wireType, into: &beacon.eventID)
            case 5: try reader.int64(wireType, into: &beacon.deviceTimeMs)
            case 10:
                guard let bytes = try reader.message(wireType) else { continue }
                var body = beacon.visitIfSet ?? Stitch_V1_Visit()
                try decodeVisit(bytes, into: &body)
                beacon.body = .visit(body)
            case 11:
                var body = beacon.hitIfSet ?? Stitch_V1_Hit()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    switch field {
                    case 1: try fields.enumeration(wireType, into: &body.type)
                    case 2: try fields.string(wireType, into: &body.url)
                    case 3: try fields.string(wireType, into: &body.goal)
                    default: try fields.skip(wireType)
                    }
                }
                beacon.body = .hit(body)
            case 12:
                var body = beacon.numberShownIfSet ?? Stitch_V1_NumberShown()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    if field == 1 { try fields.string(wireType, into: &body.trackingNumber) } else { try fields.skip(wireType) }
                }
                beacon.body = .numberShown(body)
            case 13:
                var body = beacon.formIfSet ?? Stitch_V1_Form()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    switch field {
                    case 1: try fields.string(wireType, into: &body.formID)
                    case 2: try fields.string(wireType, into: &body.pageURL)
                    case 3: try fields.string(wireType, into: &body.phone)
                    case 4: try fields.string(wireType, into: &body.email)
                    case 5: try fields.string(wireType, into: &body.name)
                    default: try fields.skip(wireType)
                    }
                }
                beacon.body = .form(body)
            case 14:
                var body = beacon.callIfSet ?? Stitch_V1_Call()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    switch field {
                    case 1: try fields.string(wireType, into: &body.callID)
                    case 2: try fields.string(wireType, into: &body.callerPhone)
                    case 3: try fields.string(wireType, into: &body.trackingNumber)
                    case 4: try fields.int64(wireType, into: &body.startedAtMs)
                    case 5: try fields.uint32(wireType, into: &body.durationS)
                    case 6: try fields.bool(wireType, into: &body.answered)
                    default: try fields.skip(wireType)
                    }
                }
                beacon.body = .call(body)
            case 15:
                var body = beacon.chatIfSet ?? Stitch_V1_Chat()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    switch field {
                    case 1: try fields.string(wireType, into: &body.provider)
                    case 2: try fields.string(wireType, into: &body.chatID)
                    case 3: try fields.string(wireType, into: &body.visitorID)
                    case 4: try fields.string(wireType, into: &body.phone)
                    case 5: try fields.string(wireType, into: &body.email)
                    default: try fields.skip(wireType)
                    }
                }
                beacon.body = .chat(body)
            case 16:
                var body = beacon.dealIfSet ?? Stitch_V1_Deal()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    switch field {
                    case 1: try fields.string(wireType, into: &body.crm)
                    case 2: try fields.string(wireType, into: &body.dealID)
                    case 3: try fields.string(wireType, into: &body.contactID)
                    case 4: try fields.enumeration(wireType, into: &body.status)
                    case 5: try fields.int64(wireType, into: &body.revenueMinor)
                    case 6: try fields.string(wireType, into: &body.currency)
                    default: try fields.skip(wireType)
                    }
                }
                beacon.body = .deal(body)
            case 17:
                var body = beacon.leaseRenewalIfSet ?? Stitch_V1_LeaseRenewal()
                guard let bytes = try reader.message(wireType) else { continue }
                var fields = WireReader(bytes)
                while let (field, wireType) = try fields.tag() {
                    if field == 1 { try fields.string(wireType, into: &body.trackingNumber) } else { try fields.skip(wireType) }
                }
                beacon.body = .leaseRenewal(body)
            default:
                try reader.skip(wireType)
            }
        }
    }

    private static func decodeVisit(_ bytes: UnsafeRawBufferPointer, into visit: inout Stitch_V1_Visit) throws(FrameError) {
        var fields = WireReader(bytes)
        while let (field, wireType) = try fields.tag() {
            switch field {
            case 1: try fields.string(wireType, into: &visit.utmSource)
            case 2: try fields.string(wireType, into: &visit.utmMedium)
            case 3: try fields.string(wireType, into: &visit.utmCampaign)
            case 4: try fields.string(wireType, into: &visit.utmContent)
            case 5: try fields.string(wireType, into: &visit.utmTerm)
            case 6: try fields.string(wireType, into: &visit.referrer)
            case 7: try fields.string(wireType, into: &visit.landingURL)
            case 8: try fields.string(wireType, into: &visit.gclid)
            case 9: try fields.string(wireType, into: &visit.yclid)
            case 10: try fields.string(wireType, into: &visit.fbclid)
            case 11: try fields.enumeration(wireType, into: &visit.device)
            default: try fields.skip(wireType)
            }
        }
    }
}

extension Stitch_V1_Beacon {
    // The body already decoded for this case, for proto's merge of a
    // singular message field that appears twice.
    fileprivate var visitIfSet: Stitch_V1_Visit? { if case .visit(let v) = body { v } else { nil } }
    fileprivate var hitIfSet: Stitch_V1_Hit? { if case .hit(let v) = body { v } else { nil } }
    fileprivate var numberShownIfSet: Stitch_V1_NumberShown? { if case .numberShown(let v) = body { v } else { nil } }
    fileprivate var formIfSet: Stitch_V1_Form? { if case .form(let v) = body { v } else { nil } }
    fileprivate var callIfSet: Stitch_V1_Call? { if case .call(let v) = body { v } else { nil } }
    fileprivate var chatIfSet: Stitch_V1_Chat? { if case .chat(let v) = body { v } else { nil } }
    fileprivate var dealIfSet: Stitch_V1_Deal? { if case .deal(let v) = body { v } else { nil } }
    fileprivate var leaseRenewalIfSet: Stitch_V1_LeaseRenewal? { if case .leaseRenewal(let v) = body { v } else { nil } }
}

/// A cursor over protobuf wire bytes.
struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    /// The field number of the last tag read (a group must end with its own).
    private var lastField = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    private static func malformed(_ why: String) -> FrameError {
        .malformedPayload("hand decoder: \(why)")
    }

    /// The next field's number and wire type; nil at the end.
    mutating func tag() throws(FrameError) -> (field: Int, wireType: Int)? {
        guard offset < bytes.count else { return nil }
        let key = try rawVarint()
        let field = key >> 3
        guard field > 0, field <= 0x1FFF_FFFF else { throw Self.malformed("field number \(field)") }
        lastField = Int(field)
        return (Int(field), Int(key & 7))
    }

    // Field readers. A known field sent with another wire type is skipped
    // like an unknown one (SwiftProtobuf does the same), not refused.

    mutating func uint64(_ wireType: Int, into target: inout UInt64) throws(FrameError) {
        guard wireType == 0 else { return try skip(wireType) }
        target = try rawVarint()
    }

    mutating func int64(_ wireType: Int, into target: inout Int64) throws(FrameError) {
        guard wireType == 0 else { return try skip(wireType) }
        target = Int64(bitPattern: try rawVarint())
    }

    mutating func uint32(_ wireType: Int, into target: inout UInt32) throws(FrameError) {
        guard wireType == 0 else { return try skip(wireType) }
        target = UInt32(truncatingIfNeeded: try rawVarint())
    }

    mutating func bool(_ wireType: Int, into target: inout Bool) throws(FrameError) {
        guard wireType == 0 else { return try skip(wireType) }
        target = try rawVarint() != 0
    }

    /// An enum field (proto3: any Int32; unknown values kept as UNRECOGNIZED).
    mutating func enumeration<E: SwiftProtobuf.Enum>(_ wireType: Int, into target: inout E) throws(FrameError) {
        guard wireType == 0 else { return try skip(wireType) }
        if let value = E(rawValue: Int(Int32(truncatingIfNeeded: try rawVarint()))) { target = value }
    }

    /// A string field, which must be valid UTF-8.
    mutating func string(_ wireType: Int, into target: inout String) throws(FrameError) {
        guard wireType == 2 else { return try skip(wireType) }
        let raw = try lengthDelimited()
        guard let text = String(validating: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw Self.malformed("a string is not UTF-8")
        }
        target = text
    }

    /// An embedded message's bytes; nil (the field skipped) for another wire type.
    mutating func message(_ wireType: Int) throws(FrameError) -> UnsafeRawBufferPointer? {
        guard wireType == 2 else {
            try skip(wireType)
            return nil
        }
        return try lengthDelimited()
    }

    /// Skips an unknown field of any wire type, groups included.
    mutating func skip(_ wireType: Int) throws(FrameError) {
        switch wireType {
        case 0: _ = try rawVarint()
        case 1: try advance(8)
        case 2: _ = try lengthDelimited()
        case 5: try advance(4)
        case 3:
            // A group: fields until the end-group tag of the same field number.
            let group = lastField
            while true {
                guard let (field, inner) = try tag() else { throw Self.malformed("a group without its end") }
                if inner == 4 {
                    guard field == group else { throw Self.malformed("group \(group) ended as \(field)") }
                    return
                }
                try skip(inner)
            }
        default:
            throw Self.malformed("wire type \(wireType)")
        }
    }

    private mutating func advance(_ count: Int) throws(FrameError) {
        guard bytes.count - offset >= count else { throw Self.malformed("truncated") }
        offset += count
    }

    private mutating func lengthDelimited() throws(FrameError) -> UnsafeRawBufferPointer {
        let length = try rawVarint()
        guard length <= UInt64(bytes.count - offset) else { throw Self.malformed("a length past the end") }
        let start = offset
        offset += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    }

    private mutating func rawVarint() throws(FrameError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            // Bits past the 64th are dropped, as SwiftProtobuf drops them.
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw Self.malformed("a varint over 10 bytes") }
        }
        throw Self.malformed("truncated varint")
    }
}
