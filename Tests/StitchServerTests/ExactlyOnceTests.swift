import Foundation
import NIOCore
import StitchClient
import StitchServer
import StitchWire
import SwiftProtobuf
import Testing

/// FRAMING.md "Exactly once" and the per-beacon contract: repeats by event id
/// are recognised and not stored, unreachable beacons are refused, refused
/// identifiers are reported, unknown fields are never stored.
@Suite("Exactly once and the beacon contract")
struct ExactlyOnceTests {
    static func hit(_ eventID: UInt64, cookie: String = "cookie-once-1", timeMs: Int64 = 1_767_225_600_000) -> Stitch_V1_Beacon {
        var beacon = Beacons.hit(timeMs: timeMs + Int64(eventID), cookie: cookie, session: "session-once-1")
        beacon.eventID = eventID
        return beacon
    }

    @Test("a batch sent three times, regrouped, is stored once; repeats are listed in the ack and counted")
    func repeatsAreStoredOnce() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        let beacons = (1...6).map { Self.hit(UInt64($0)) }
        let first = try #require(try await ingest.send(beacons, sequence: 1).get().ack)
        #expect(first.accepted == 6 && first.repeated == 0)
        // The same beacons again, regrouped, with one new one in the middle.
        let second = try #require(try await ingest.send(Array(beacons[0..<3]) + [Self.hit(7)], sequence: 2).get().ack)
        #expect(second.accepted == 1 && second.repeated == 3 && second.repeatIndexes == [0, 1, 2])
        // A repeat inside one batch is caught too (same transaction).
        let third = try #require(try await ingest.send([beacons[5], Self.hit(8), Self.hit(8)], sequence: 3).get().ack)
        #expect(third.accepted == 1 && third.repeatIndexes == [0, 2])

        let query = try await server.queryClient()
        let stats = try await query.stats()
        #expect(stats.events == 8)
        #expect(stats.total(name: "stitch_beacons_repeated_total") == 5)
        #expect(stats.total(name: "stitch_beacons_accepted_total") == 8)
        // Without an event id, every arrival is stored (FRAMING.md says so).
        var plain = Self.hit(0)
        plain.eventID = 0
        _ = try await ingest.send([plain, plain], sequence: 4).get()
        #expect(try await query.stats().events == 10)
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("dedup outlives a restart: the remembered ids are in the store")
    func dedupSurvivesRestart() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        _ = try await ingest.send([Self.hit(41), Self.hit(42)], sequence: 1).get()
        await ingest.close()
        await server.stop()
        let again = try await TestServer(directory: server.directory)
        let resend = try await again.ingestClient()
        let ack = try #require(try await resend.send([Self.hit(42), Self.hit(43)], sequence: 1).get().ack)
        #expect(ack.accepted == 1 && ack.repeatIndexes == [0])
        await resend.close()
        await again.stopAndRemove()
    }

    @Test("a beacon whose every identifier is refused is rejected NO_IDENTIFIERS; refusals are listed per beacon")
    func unreachableBeaconsAreRefused() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        var junkOnly = Beacons.hit(timeMs: 1_767_225_600_000, cookie: "undefined", session: "short")
        junkOnly.identifiers.append(Beacons.identifier(.cookie, String(repeating: "c", count: 200)))
        junkOnly.identifiers.append(.with {
            $0.kind = .chat
            $0.value = "777"  // no namespace anywhere
        })
        let mixed = Beacons.form(timeMs: 1_767_225_600_001, cookie: "cookie-mixed-1", phone: "000")
        var hiddenCaller = Stitch_V1_Beacon()
        hiddenCaller.site = 1
        hiddenCaller.timeMs = 1_767_225_600_002
        hiddenCaller.call = .with { $0.trackingNumber = "+7 495 111-22-33" }
        let ack = try #require(try await ingest.send([junkOnly, mixed, hiddenCaller], sequence: 1).get().ack)
        #expect(ack.accepted == 2 && ack.rejected == 1)
        #expect(ack.rejections.map(\.index) == [0] && ack.rejections.first?.reason == .noIdentifiers)
        let refused = ack.refusedIdentifiers.map { "\($0.index) \($0.field) \($0.reason)" }
        #expect(refused == [
            "0 identifiers[0] junk", "0 identifiers[1] too_short", "0 identifiers[2] too_long",
            "0 identifiers[3] missing_namespace", "1 form.phone junk",
        ])
        #expect(ack.identifiersRefused == 5)
        let query = try await server.queryClient()
        #expect(try await query.stats().events == 2, "the unreachable beacon is not stored")
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("unknown protobuf fields are dropped at every depth: never stored, never served")
    func unknownFieldsAreDropped() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        // A beacon followed by 200 KB of field 99 (unknown to this schema),
        // and the same inside its hit body: what an older client cannot know.
        let blob = Self.unknownField(99, bytes: 200_000)
        var beaconBytes: [UInt8] = try Self.hit(1).serializedBytes()
        beaconBytes += blob
        let beacon = try Stitch_V1_Beacon(serializedBytes: beaconBytes)
        #expect(beacon.unknownFields.data.count == blob.count, "the test's beacon does carry the unknown field")
        let ack = try #require(try await ingest.send([beacon], sequence: 1).get().ack)
        #expect(ack.accepted == 1)
        let query = try await server.queryClient()
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, "cookie-once-1")
            $0.limit = 1
        })
        let stored = try #require(history.events.first).beacon
        #expect(stored.unknownFields.data.isEmpty)
        let storedBytes: [UInt8] = try stored.serializedBytes()
        #expect(storedBytes.count < 1000, "the stored beacon is its known fields only")
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("the largest beacon the limits allow pages alone under the smallest response limit")
    func largestBeaconPages() async throws {
        let server = try await TestServer { $0.responseBytesMax = 64 << 10 }
        let ingest = try await server.ingestClient()
        let long = String(repeating: "u", count: 2048)
        let text = String(repeating: "t", count: 256)
        var beacon = Stitch_V1_Beacon()
        beacon.site = 1
        beacon.timeMs = 1_767_225_600_000
        beacon.identifiers = (0..<16).map { i in Beacons.identifier(.cookie, "cookie-big-\(i)-" + String(repeating: "c", count: 110)) }
        beacon.visit = .with {
            $0.utmSource = text; $0.utmMedium = text; $0.utmCampaign = text; $0.utmContent = text; $0.utmTerm = text
            $0.referrer = long; $0.landingURL = long
            $0.gclid = text; $0.yclid = text; $0.fbclid = text
        }
        #expect(try await ingest.send([beacon, beacon], sequence: 1).get().ack?.accepted == 2)
        let query = try await server.queryClient()
        var cursor = Data()
        var pages = 0
        repeat {
            let page = try await query.history(.with {
                $0.site = 1
                $0.person.identifier = Beacons.identifier(.cookie, beacon.identifiers[0].value)
                $0.limit = 1
                $0.cursor = cursor
            })
            #expect(page.events.count == 1)
            cursor = page.nextCursor
            pages += 1
        } while !cursor.isEmpty && pages < 5
        #expect(pages == 2)
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("a batch with sequence 0 is refused BAD_SEQUENCE, and the connection goes on")
    func sequenceZeroIsRefused() async throws {
        let server = try await TestServer()
        let ingest = try await server.ingestClient()
        let reply = try await ingest.send([Self.hit(1)], sequence: 0).get()
        guard case .refused(let error) = reply else {
            Issue.record("sequence 0 was answered \(reply)")
            return
        }
        #expect(error.code == .badSequence && !error.closing)
        #expect(try await ingest.send([Self.hit(1)], sequence: 1).get().ack?.accepted == 1)
        await ingest.close()
        await server.stopAndRemove()
    }

    /// One length-delimited field `number` holding `bytes` bytes.
    static func unknownField(_ number: Int, bytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        func varint(_ value: Int) {
            var value = UInt64(value)
            while value >= 0x80 {
                out.append(UInt8(value & 0x7F) | 0x80)
                value >>= 7
            }
            out.append(UInt8(value))
        }
        varint(number << 3 | 2)
        varint(bytes)
        out += [UInt8](repeating: 0x41, count: bytes)
        return out
    }
}

extension Stitch_V1_StatsResponse {
    /// The sum of every series of counter `name`.
    func total(name: String) -> UInt64 {
        counters.filter { $0.name == name || $0.name.hasPrefix(name + "{") }.reduce(0) { $0 + $1.value }
    }
}
