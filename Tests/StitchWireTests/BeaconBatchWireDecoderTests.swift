import Foundation
import SwiftProtobuf
import StitchTesting
import Testing

@testable import StitchWire

/// The hand-written batch decoder against SwiftProtobuf's: same message or an
/// error for the same bytes — on random batches of every body type, with
/// unknown fields at every depth, and on randomly mutated payloads.
@Suite("Hand-written BeaconBatch decoder")
struct BeaconBatchWireDecoderTests {
    /// SwiftProtobuf as the collector used it: unknown fields dropped.
    static func reference(_ bytes: [UInt8]) -> Stitch_V1_BeaconBatch? {
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        return try? Stitch_V1_BeaconBatch(serializedBytes: bytes, options: options)
    }

    static func hand(_ bytes: [UInt8]) -> Stitch_V1_BeaconBatch? {
        bytes.withUnsafeBytes { raw in try? BeaconBatchWireDecoder.decode(raw) }
    }

    static func text(_ random: inout SeededGenerator) -> String {
        let pieces = ["a", "Z", "7", " ", "+7 (495) 100-00-01", "jivo:", "utm", "ё", "日本", "🙂", "\u{0}", "=&?/"]
        return (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    static func beacon(_ random: inout SeededGenerator) -> Stitch_V1_Beacon {
        .with { beacon in
            beacon.site = UInt32.random(in: 0...UInt32.max, using: &random) >> UInt32.random(in: 0...31, using: &random)
            beacon.timeMs = Int64.random(in: Int64.min...Int64.max, using: &random) >> Int64.random(in: 0...63, using: &random)
            beacon.eventID = UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random)
            beacon.deviceTimeMs = Int64.random(in: Int64.min...Int64.max, using: &random) >> Int64.random(in: 0...63, using: &random)
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                beacon.identifiers.append(.with {
                    $0.kind = Stitch_V1_IdentifierKind(rawValue: Int.random(in: -2...12, using: &random)) ?? .cookie
                    $0.value = text(&random)
                    $0.namespace = text(&random)
                })
            }
            switch Int.random(in: 0...7, using: &random) {
            case 0: beacon.visit = .with {
                $0.utmSource = text(&random); $0.utmMedium = text(&random); $0.utmCampaign = text(&random)
                $0.utmContent = text(&random); $0.utmTerm = text(&random); $0.referrer = text(&random)
                $0.landingURL = text(&random); $0.gclid = text(&random); $0.yclid = text(&random)
                $0.fbclid = text(&random); $0.device = Stitch_V1_Device(rawValue: Int.random(in: 0...9, using: &random))!
            }
            case 1: beacon.hit = .with {
                $0.type = Stitch_V1_HitType(rawValue: Int.random(in: 0...5, using: &random))!
                $0.url = text(&random); $0.goal = text(&random)
            }
            case 2: beacon.numberShown = .with { $0.trackingNumber = text(&random) }
            case 3: beacon.form = .with {
                $0.formID = text(&random); $0.pageURL = text(&random); $0.phone = text(&random)
                $0.email = text(&random); $0.name = text(&random)
            }
            case 4: beacon.call = .with {
                $0.callID = text(&random); $0.callerPhone = text(&random); $0.trackingNumber = text(&random)
                $0.startedAtMs = Int64.random(in: -5...Int64.max, using: &random)
                $0.durationS = UInt32.random(in: 0...UInt32.max, using: &random); $0.answered = Bool.random(using: &random)
            }
            case 5: beacon.chat = .with {
                $0.provider = text(&random); $0.chatID = text(&random); $0.visitorID = text(&random)
                $0.phone = text(&random); $0.email = text(&random)
            }
            case 6: beacon.deal = .with {
                $0.crm = text(&random); $0.dealID = text(&random); $0.contactID = text(&random)
                $0.status = Stitch_V1_DealStatus(rawValue: Int.random(in: -1...6, using: &random))!
                $0.revenueMinor = Int64.random(in: Int64.min...Int64.max, using: &random); $0.currency = text(&random)
            }
            default: break
            }
        }
    }

    static func batchBytes(_ random: inout SeededGenerator) throws -> [UInt8] {
        let batch = Stitch_V1_BeaconBatch.with { batch in
            batch.beacons = (0..<Int.random(in: 0...5, using: &random)).map { _ in beacon(&random) }
            batch.sentMs = Int64.random(in: Int64.min...Int64.max, using: &random) >> Int64.random(in: 0...63, using: &random)
            batch.clock = Stitch_V1_ProducerClock(rawValue: Int.random(in: -1...4, using: &random))!
        }
        return try batch.serializedBytes()
    }

    @Test("random batches of every body type decode to the same message")
    func sameMessages() throws {
        var random = SeededGenerator.forTest("hand decoder, valid batches")
        for _ in 0..<2000 {
            let bytes = try Self.batchBytes(&random)
            let expected = Self.reference(bytes)
            #expect(expected != nil)
            #expect(Self.hand(bytes) == expected)
        }
    }

    @Test("unknown fields of every wire type are dropped at every depth; a repeated body merges")
    func unknownFieldsAndMerges() throws {
        // A hit beacon, then unknown fields: varint 99, fixed64 98, length-delimited 97, fixed32 96, a group 95.
        let unknown: [UInt8] = [0x98, 0x06, 0x05, 0x91, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0x8A, 0x06, 2, 0x41, 0x42,
                                0x85, 0x06, 9, 9, 9, 9, 0xFB, 0x05, 0x08, 0x01, 0xFC, 0x05]
        var hit: [UInt8] = try Stitch_V1_Hit.with { $0.url = "https://a.example/" }.serializedBytes()
        hit += unknown
        var beacon: [UInt8] = try Stitch_V1_Beacon.with { $0.site = 7 }.serializedBytes()
        beacon += [0x5A, UInt8(hit.count)]  // field 11 (hit)
        beacon += hit
        beacon += unknown
        // The same body again: proto merges it into the first.
        let goal: [UInt8] = try Stitch_V1_Hit.with { $0.goal = "signup" }.serializedBytes()
        beacon += [0x5A, UInt8(goal.count)]
        beacon += goal
        var batch: [UInt8] = [0x0A, UInt8(beacon.count)]
        batch += beacon
        batch += unknown
        let decoded = try #require(Self.hand(batch))
        #expect(decoded == Self.reference(batch))
        #expect(decoded.beacons.first?.hit.url == "https://a.example/")
        #expect(decoded.beacons.first?.hit.goal == "signup")
        #expect(decoded.beacons.first?.unknownFields.data.isEmpty == true)
    }

    @Test("mutated payloads: the same message or an error from both decoders")
    func mutatedPayloads() throws {
        var random = SeededGenerator.forTest("hand decoder, mutated batches")
        var refusedByBoth = 0
        for _ in 0..<5000 {
            var bytes = try Self.batchBytes(&random)
            for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0...4, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &random)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                case 3: bytes.removeSubrange(at...)
                default: bytes.remove(at: at)
                }
            }
            let expected = Self.reference(bytes)
            let got = Self.hand(bytes)
            #expect(got == expected, "bytes \(bytes.map { String(format: "%02x", $0) }.joined())")
            if expected == nil && got == nil { refusedByBoth += 1 }
        }
        #expect(refusedByBoth > 100, "the mutations reach the error paths")
    }
}
