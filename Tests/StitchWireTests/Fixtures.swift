import NIOCore
import StitchTesting
import StitchWire
import SwiftProtobuf

/// Beacons and frames shared by the wire tests.
enum Fixtures {
    static let site: UInt32 = 101
    static let time: Int64 = 1_767_225_600_000
    /// When the collector received a decoded frame (matters to device-clock batches only).
    static let receivedMs: Int64 = time + 5_000

    static func identifiers(_ pairs: [(Stitch_V1_IdentifierKind, String)]) -> [Stitch_V1_Identifier] {
        pairs.map { kind, value in .with { $0.kind = kind; $0.value = value } }
    }

    /// One beacon of every body type, each valid on its own.
    static let beaconsByBody: [(name: String, beacon: Stitch_V1_Beacon)] = [
        ("visit", beacon(ids: [(.cookie, "c7Hq2x9LmP0aZ"), (.gaClientID, "GA1.2.1.2")]) {
            $0.visit = .with {
                $0.utmSource = "yandex"; $0.utmMedium = "cpc"; $0.utmCampaign = "brand"
                $0.utmContent = "ad1"; $0.utmTerm = "sofa"; $0.referrer = "https://ya.ru/"
                $0.landingURL = "https://shop.example/?x=1"; $0.gclid = "g"; $0.yclid = "y"; $0.fbclid = "f"
                $0.device = .tablet
            }
        }),
        ("hit", beacon(ids: [(.session, "c7Hq2x9LmP0aZ.1")]) {
            $0.hit = .with { $0.type = .goal; $0.url = "https://shop.example/cart"; $0.goal = "cart" }
        }),
        ("number_shown", beacon(ids: [(.session, "c7Hq2x9LmP0aZ.1")]) {
            $0.numberShown = .with { $0.trackingNumber = "+74950000017" }
        }),
        ("form", beacon(ids: []) {
            $0.form = .with {
                $0.formID = "callback"; $0.pageURL = "https://shop.example/c"
                $0.phone = "8 916 123-45-67"; $0.email = "a@b.ru"; $0.name = "Иван"
            }
        }),
        ("call", beacon(ids: []) {
            $0.call = .with {
                $0.callID = "pbx-1"; $0.callerPhone = "+79161234567"; $0.trackingNumber = "+74950000017"
                $0.startedAtMs = time; $0.durationS = 61; $0.answered = true
            }
        }),
        ("chat", beacon(ids: [(.cookie, "c7Hq2x9LmP0aZ")]) {
            $0.chat = .with { $0.provider = "jivo"; $0.chatID = "v-1"; $0.visitorID = "1"; $0.phone = "89161234567" }
        }),
        ("deal", beacon(ids: []) {
            $0.deal = .with {
                $0.crm = "amocrm"; $0.dealID = "D-1"; $0.contactID = "C-1"; $0.status = .deleted
                $0.revenueMinor = 1_250_000; $0.currency = "RUB"
            }
        }),
    ]

    static func beacon(
        ids: [(Stitch_V1_IdentifierKind, String)],
        body: (inout Stitch_V1_Beacon) -> Void
    ) -> Stitch_V1_Beacon {
        var beacon = Stitch_V1_Beacon.with {
            $0.site = site
            $0.timeMs = time
            $0.identifiers = identifiers(ids)
            $0.eventID = 7
        }
        body(&beacon)
        return beacon
    }

    static var visit: Stitch_V1_Beacon { beaconsByBody[0].beacon }

    /// A whole frame holding `beacons`, as a client would send it.
    static func batchFrame(
        _ beacons: [Stitch_V1_Beacon],
        sequence: UInt64 = 1,
        compressed: Bool = false,
        limits: WireLimits = .standard
    ) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        let batch = Stitch_V1_BeaconBatch.with { $0.beacons = beacons }
        try FrameEncoder(limits: limits).encode(batch, type: .batch, sequence: sequence, compressed: compressed, into: &buffer)
        return buffer
    }

    /// A frame with arbitrary payload bytes and header fields, for malformed input.
    static func rawFrame(
        payload: [UInt8],
        type: UInt8 = FrameType.batch.rawValue,
        flags: UInt8 = 0,
        sequence: UInt64 = 1,
        length: UInt32? = nil,
        rawLength: UInt32? = nil,
        checksum: UInt32? = nil,
        reserved: [UInt8] = [0, 0, 0]
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(FrameHeader.magic)
        buffer.writeInteger(FrameHeader.version)
        buffer.writeInteger(type)
        buffer.writeInteger(flags)
        buffer.writeBytes(reserved)
        buffer.writeInteger(sequence)
        buffer.writeInteger(length ?? UInt32(payload.count))
        buffer.writeInteger(rawLength ?? UInt32(payload.count))
        buffer.writeInteger(checksum ?? payload.withUnsafeBytes { CRC32.checksum($0) })
        buffer.writeBytes(payload)
        return buffer
    }

    static func serialized(_ beacons: [Stitch_V1_Beacon]) throws -> [UInt8] {
        try Stitch_V1_BeaconBatch.with { $0.beacons = beacons }.serializedBytes()
    }

    static func deflated(_ bytes: [UInt8]) -> [UInt8] {
        var out = ByteBuffer()
        bytes.withUnsafeBytes { _ = ZlibDeflater().deflate($0, into: &out) }
        return Array(out.readableBytesView)
    }
}

/// Splits a byte stream into frames; returns the frames and the stream error
/// that stopped it, if any. `chunk` is how many bytes arrive at a time.
func decodeStream(_ input: ByteBuffer, chunks: [Int], limits: WireLimits = .standard) -> ([Frame], FrameError?) {
    let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limits: limits))
    var frames: [Frame] = []
    var rest = input
    var chunkIndex = 0
    do {
        while rest.readableBytes > 0 {
            let size = min(max(chunks[chunkIndex % chunks.count], 1), rest.readableBytes)
            chunkIndex += 1
            try processor.process(buffer: rest.readSlice(length: size)!) { frames.append($0) }
        }
    } catch {
        return (frames, error as? FrameError)
    }
    return (frames, nil)
}

/// Decodes one batch frame fed whole; fails the test on a stream error.
func decodeBatch(_ input: ByteBuffer, limits: WireLimits = .standard) throws -> DecodedBatch {
    let (frames, streamError) = decodeStream(input, chunks: [input.readableBytes], limits: limits)
    if let streamError { throw streamError }
    guard frames.count == 1 else { throw FrameError.lengthMismatch(declared: 1, actual: frames.count) }
    return try BatchDecoder(limits: limits).decode(frames[0], receivedMs: Fixtures.receivedMs)
}
