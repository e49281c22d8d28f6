import StitchGraph
import StitchIdentity
import StitchMapping
import StitchRandom
import StitchWire
import Testing

/// The group log's direct encoder against swift-protobuf: the same entry must
/// come out as the same bytes, and read back as the same events.
@Suite("Group log entries encoded directly")
struct GroupLogEntryEncoderTests {
    @Test("random events and renewals encode to swift-protobuf's exact bytes and decode back unchanged")
    func matchesSwiftProtobuf() throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("GroupLogEntryEncoderTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        for round in 0..<300 {
            let events = (0..<random.next(below: 6)).map { _ in Self.event(&random) }
            let renewals = (0..<random.next(below: 3)).map { _ in Self.renewal(&random) }
            let publishedMs = Self.int64(&random)
            let direct = GroupLogEntryEncoder.encode(events: events, renewals: renewals, publishedMs: publishedMs)
            let reference: [UInt8] = try Stitch_V1_LogEntry.with {
                $0.format = LogEntryFormat.current
                $0.publishedMs = publishedMs
                $0.events = events.map(Stitch_V1_LogEvent.init)
                $0.renewals = renewals.map(Stitch_V1_LogRenewal.init)
            }.serializedBytes()
            #expect(direct == reference, "round \(round), seed \(seed)")
            let decoded = try ApplySegment(logEntry: direct)
            #expect(decoded.nowMs == publishedMs)
            #expect(decoded.events.map(Self.fields) == events.map(Self.fields), "round \(round), seed \(seed)")
            #expect(decoded.renewals == renewals, "round \(round), seed \(seed)")
        }
    }

    @Test("zero-valued optional fields are written, zero proto3 scalars are left out")
    func presence() throws {
        let event = PreparedEvent(
            site: 0, eventID: 0, timeMs: 0, receivedMs: 0, type: .visit,
            identifiers: [NormalizedIdentifier(uncheckedKind: .phone, value: "")], body: [], trackingNumber: "",
            callStartMs: 0, callerPhoneIndex: 0, dealKey: "", dealContactIndex: 0)
        let bytes = GroupLogEntryEncoder.encode(events: [event], renewals: [], publishedMs: 0)
        // format 1; then one event: identifier {kind 5 (phone)}, tracking_number "", caller_phone_index 0,
        // deal_key "", deal_contact_index 0.
        let expectedEvent: [UInt8] = [0x32, 0x02, 0x08, 0x05, 0x42, 0x00, 0x50, 0x00, 0x5A, 0x00, 0x60, 0x00]
        #expect(bytes == [0x08, 0x01, 0x22, UInt8(expectedEvent.count)] + expectedEvent)
        let decoded = try ApplySegment(logEntry: bytes)
        #expect(decoded.events.map(Self.fields) == [Self.fields(event)])
    }

    // MARK: Random values

    private static func event(_ random: inout SplitMix64) -> PreparedEvent {
        let identifiers = (0..<random.next(below: 4)).map { _ in
            NormalizedIdentifier(
                uncheckedKind: IdentifierKind.allCases[random.next(below: IdentifierKind.allCases.count)],
                value: string(&random))
        }
        let optionalIndex = { (random: inout SplitMix64) -> Int? in
            identifiers.isEmpty || random.chance(50) ? nil : random.next(below: identifiers.count)
        }
        let callerPhoneIndex = optionalIndex(&random)
        let dealContactIndex = optionalIndex(&random)
        return PreparedEvent(
            site: random.chance(20) ? 0 : UInt32(truncatingIfNeeded: random.next()),
            eventID: random.chance(20) ? 0 : random.next(),
            timeMs: int64(&random), receivedMs: int64(&random),
            type: EventType.allCases[random.next(below: EventType.allCases.count)],
            identifiers: identifiers,
            body: (0..<random.next(below: 3) * random.next(below: 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) },
            trackingNumber: random.chance(50) ? nil : string(&random),
            callStartMs: random.chance(30) ? nil : int64(&random),
            callerPhoneIndex: callerPhoneIndex,
            dealKey: random.chance(50) ? nil : string(&random),
            dealContactIndex: dealContactIndex)
    }

    private static func renewal(_ random: inout SplitMix64) -> LeaseRenewal {
        LeaseRenewal(
            site: UInt32(truncatingIfNeeded: random.next()), session: string(&random), timeMs: int64(&random),
            trackingNumber: random.chance(50) ? nil : string(&random))
    }

    /// Zero, small, negative and full-width values: each varint length.
    private static func int64(_ random: inout SplitMix64) -> Int64 {
        switch random.next(below: 4) {
        case 0: 0
        case 1: Int64(random.next(below: 300))
        case 2: -Int64(random.next(below: 1 << 40))
        default: Int64(bitPattern: random.next())
        }
    }

    /// Empty, ASCII, Cyrillic and past-127-bytes strings (a two-byte length).
    private static func string(_ random: inout SplitMix64) -> String {
        switch random.next(below: 4) {
        case 0: ""
        case 1: "s\(random.next())"
        case 2: "звонок-\(random.next(below: 1000))"
        default: String(repeating: "x", count: 100 + random.next(below: 100))
        }
    }

    /// What a log entry carries of an event (refusals are not carried).
    private static func fields(_ event: PreparedEvent) -> String {
        "\(event.site) \(event.eventID) \(event.timeMs) \(event.receivedMs) \(event.type) "
            + "\(event.identifiers.map { "\($0.kind):\($0.value)" }) \(event.body) \(String(describing: event.trackingNumber)) "
            + "\(event.callStartMs) \(String(describing: event.callerPhoneIndex)) \(String(describing: event.dealKey)) "
            + "\(String(describing: event.dealContactIndex))"
    }
}
