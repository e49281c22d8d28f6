import Foundation
import OpenAPIRuntime
import StitchAPI
import StitchWire
import SwiftProtobuf

// The JSON API's answers are the binary protocol's, converted here: one
// JSON shape per message (proto/openapi.yaml `components/schemas`), made
// from the protobuf message the executor built.
//
// The contract's string enums list the protobuf enum's cases in its order,
// without UNSPECIFIED where the JSON never says it: `ContractEnum` converts
// by position (ContractEnumTests checks every name).

/// A contract enum that mirrors a protobuf enum case by case.
protocol ContractEnum: CaseIterable, Equatable where AllCases == [Self] {
    /// The protobuf value of the contract's first case (1 when the contract
    /// leaves UNSPECIFIED out).
    static var firstProtoValue: Int { get }
}

extension ContractEnum {
    static var firstProtoValue: Int { 0 }

    /// The contract's case for a protobuf value; nil for one it does not list.
    init?(protoValue: Int) {
        let index = protoValue - Self.firstProtoValue
        guard Self.allCases.indices.contains(index) else { return nil }
        self = Self.allCases[index]
    }

    var protoValue: Int { Self.allCases.firstIndex(of: self)! + Self.firstProtoValue }
}

extension Components.Schemas.IdentifierKind: ContractEnum { static var firstProtoValue: Int { 1 } }
extension Components.Schemas.EventType: ContractEnum { static var firstProtoValue: Int { 1 } }
extension Components.Schemas.AttributionModel: ContractEnum { static var firstProtoValue: Int { 1 } }
extension Components.Schemas.Explanation.VerdictPayload: ContractEnum { static var firstProtoValue: Int { 1 } }
extension Components.Schemas.Source.KindPayload: ContractEnum {}
extension Components.Schemas.Source.ChannelPayload: ContractEnum {}
extension Components.Schemas.CallMatch.KindPayload: ContractEnum {}
extension Components.Schemas.Lease.KindPayload: ContractEnum {}
extension Components.Schemas.Change.KindPayload: ContractEnum {}
extension Components.Schemas.Change.ReasonPayload: ContractEnum {}

extension ContractEnum {
    /// The contract's case, or its first for a value it does not list (a
    /// newer protobuf case; ContractEnumTests keeps the lists equal).
    static func of(_ protoValue: Int) -> Self { Self(protoValue: protoValue) ?? allCases[0] }
}

// MARK: Persons

extension Components.Schemas.StoredIdentifier {
    init(_ stored: Stitch_V1_StoredIdentifier) {
        self.init(
            kind: .of(stored.kind.rawValue), value: stored.value, firstSeenMs: stored.firstSeenMs,
            lastSeenMs: stored.lastSeenMs, quarantined: stored.quarantined)
    }
}

extension Components.Schemas.Identifier {
    init(_ identifier: Stitch_V1_Identifier) {
        self.init(
            kind: .of(identifier.kind.rawValue), value: identifier.value,
            namespace: identifier.namespace.isEmpty ? nil : identifier.namespace)
    }

    /// The protobuf identifier a request names (raw: the server normalizes it).
    var wire: Stitch_V1_Identifier {
        .with {
            $0.kind = Stitch_V1_IdentifierKind(rawValue: kind.protoValue) ?? .unspecified
            $0.value = value
            $0.namespace = namespace ?? ""
        }
    }
}

extension Components.Schemas.Person {
    init(_ person: Stitch_V1_Person) {
        self.init(
            personId: Int64(bitPattern: person.personID), site: Int32(bitPattern: person.site),
            firstSeenMs: person.firstSeenMs, lastSeenMs: person.lastSeenMs,
            identifierCount: Int64(person.identifierCount), eventCount: Int64(person.eventCount),
            eventCounts: .init(additionalProperties: Dictionary(
                person.eventCounts.map { (Components.Schemas.EventType.of($0.type.rawValue).rawValue, Int64($0.count)) },
                uniquingKeysWith: +)),
            identifierCaps: .init(additionalProperties: Dictionary(
                person.identifierCaps.map { (Components.Schemas.IdentifierKind.of($0.kind.rawValue).rawValue, Int32(clamping: $0.cap)) },
                uniquingKeysWith: { first, _ in first })),
            identifiers: person.identifiers.isEmpty ? nil : person.identifiers.map(Components.Schemas.StoredIdentifier.init))
    }
}

// MARK: Events

extension Components.Schemas.Event {
    /// Field names as in beacon.proto; enums by name; 64-bit integers as
    /// strings (protobuf's JSON mapping).
    private static let bodyOptions: SwiftProtobuf.JSONEncodingOptions = {
        var options = SwiftProtobuf.JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return options
    }()

    init(_ event: Stitch_V1_Event) throws {
        let beacon = event.beacon
        let (type, body) = try Self.body(of: beacon)
        self.init(
            seq: Int64(bitPattern: event.seq), _type: type, timeMs: beacon.timeMs, receivedMs: event.receivedMs,
            deviceTimeMs: beacon.deviceTimeMs == 0 ? nil : beacon.deviceTimeMs,
            eventId: beacon.eventID == 0 ? nil : String(beacon.eventID),
            identifiers: beacon.identifiers.map(Components.Schemas.Identifier.init),
            body: .init(additionalProperties: body),
            callMatch: event.hasCallMatch ? Components.Schemas.CallMatch(event.callMatch) : nil,
            conversion: event.hasConversion ? Components.Schemas.Conversion(event.conversion) : nil)
    }

    private static func body(of beacon: Stitch_V1_Beacon) throws -> (Components.Schemas.EventType, OpenAPIObjectContainer) {
        let type: Components.Schemas.EventType
        let message: any SwiftProtobuf.Message
        switch beacon.body {
        case .visit(let visit): (type, message) = (.visit, visit)
        case .hit(let hit): (type, message) = (.hit, hit)
        case .numberShown(let shown): (type, message) = (.numberShown, shown)
        case .form(let form): (type, message) = (.form, form)
        case .call(let call): (type, message) = (.call, call)
        case .chat(let chat): (type, message) = (.chat, chat)
        case .deal(let deal): (type, message) = (.deal, deal)
        // Renewals are never stored as events; an empty hit if one were.
        case .leaseRenewal, nil: (type, message) = (.hit, Stitch_V1_Hit())
        }
        let json: [UInt8] = try message.jsonUTF8Bytes(options: bodyOptions)
        return (type, try JSONDecoder().decode(OpenAPIObjectContainer.self, from: Data(json)))
    }
}

extension Components.Schemas.Source {
    init(_ source: Stitch_V1_Source) {
        self.init(
            kind: .of(source.kind.rawValue), source: source.source.isEmpty ? nil : source.source,
            medium: source.medium.isEmpty ? nil : source.medium, campaign: source.campaign.isEmpty ? nil : source.campaign,
            channel: .of(source.channel.rawValue))
    }
}

extension Components.Schemas.CallMatch {
    init(_ match: Stitch_V1_CallMatch) {
        self.init(
            kind: .of(match.kind.rawValue), trackingNumber: match.trackingNumber.isEmpty ? nil : match.trackingNumber,
            session: match.session.isEmpty ? nil : match.session,
            source: match.hasSource ? Components.Schemas.Source(match.source) : nil)
    }
}

extension Components.Schemas.Conversion {
    init(_ conversion: Stitch_V1_Conversion) {
        self.init(
            unique: conversion.unique, target: conversion.target,
            credits: conversion.credits.map { credit in
                .init(
                    source: .init(credit.source), weight: credit.weight,
                    revenueMinor: credit.revenueMinor == 0 ? nil : credit.revenueMinor,
                    visitSeq: Int64(bitPattern: credit.visitSeq))
            })
    }
}

// MARK: Explain and the person graph

extension Components.Schemas.Explanation {
    init(_ explanation: Stitch_V1_ExplainResponse) {
        self.init(
            verdict: .of(explanation.verdict.rawValue), personA: Int64(bitPattern: explanation.personA),
            personB: Int64(bitPattern: explanation.personB),
            steps: explanation.steps.map { step in
                .init(
                    eventSeq: Int64(bitPattern: step.eventSeq), timeMs: step.timeMs, _type: .of(step.eventType.rawValue),
                    from: .init(step.from), to: .init(step.to), via: step.via)
            },
            refusal: explanation.hasRefusal
                ? .init(
                    eventSeq: Int64(bitPattern: explanation.refusal.eventSeq), timeMs: explanation.refusal.timeMs,
                    reason: explanation.refusal.reason)
                : nil)
    }
}

extension Components.Schemas.PersonGraph {
    init(_ graph: Stitch_V1_PersonGraphResponse) {
        self.init(
            personId: Int64(bitPattern: graph.personID), identifierCount: Int64(graph.identifierCount),
            identifiersOffset: Int(graph.identifiersOffset),
            identifiers: graph.identifiers.map(Components.Schemas.StoredIdentifier.init),
            links: graph.links.map { link in
                .init(
                    eventSeq: Int64(bitPattern: link.eventSeq), eventType: .of(link.eventType.rawValue), timeMs: link.timeMs,
                    via: link.via, nodes: link.nodes.map(Int.init), events: Int64(link.events))
            },
            refusals: graph.refusals.map { refusal in
                .init(
                    eventSeq: Int64(bitPattern: refusal.eventSeq), eventType: .of(refusal.eventType.rawValue),
                    timeMs: refusal.timeMs, nodes: refusal.nodes.map(Int.init), other: .init(refusal.other),
                    otherPersonId: Int64(bitPattern: refusal.otherPersonID), reason: refusal.reason,
                    events: Int64(refusal.events))
            },
            linksOmitted: Int64(graph.linksOmitted))
    }
}

// MARK: Feed, stats, call tracking, admin

extension Components.Schemas.AuditEntry {
    init(_ entry: Stitch_V1_AuditEntry) {
        self.init(
            seq: Int64(bitPattern: entry.seq), timeMs: entry.timeMs, tokenName: entry.tokenName, action: entry.action,
            site: Int32(bitPattern: entry.site),
            arguments: .init(additionalProperties: Dictionary(entry.arguments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })),
            outcome: entry.outcome)
    }
}

extension Components.Schemas.Change {
    init(_ merge: Stitch_V1_Merge) {
        self.init(
            seq: Int64(bitPattern: merge.seq), site: Int32(bitPattern: merge.site), kind: .of(merge.kind.rawValue),
            reason: .of(merge.reason.rawValue), timeMs: merge.timeMs, winner: Int64(bitPattern: merge.winner),
            loser: Int64(bitPattern: merge.loser), causeEvent: Int64(bitPattern: merge.causeEvent),
            splitInto: merge.splitInto.isEmpty ? nil : merge.splitInto.map { Int64(bitPattern: $0) },
            identifierNode: merge.identifierNode == 0 ? nil : Int64(bitPattern: merge.identifierNode))
    }
}

extension Components.Schemas.Stats {
    init(_ stats: Stitch_V1_StatsResponse) {
        self.init(
            persons: Int64(stats.persons), identifiers: Int64(stats.identifiers), events: Int64(stats.events),
            merges: Int64(stats.merges), storeBytes: Int64(stats.storeBytes), mapBytes: Int64(stats.mapBytes),
            counters: .init(additionalProperties: Dictionary(
                stats.counters.map { ($0.name, Int64(clamping: $0.value)) }, uniquingKeysWith: +)))
    }
}

extension Components.Schemas.Lease {
    init(_ lease: Stitch_V1_LeaseResponse) {
        self.init(
            trackingNumber: lease.trackingNumber.isEmpty ? nil : lease.trackingNumber, kind: .of(lease.kind.rawValue),
            heldUntilMs: lease.heldUntilMs)
    }
}

extension Components.Schemas.NumberPool {
    init(_ pool: Stitch_V1_NumberPool) {
        self.init(
            dynamicNumbers: pool.dynamicNumbers, holdSeconds: Int(pool.holdSeconds),
            fallbackNumber: pool.fallbackNumber.isEmpty ? nil : pool.fallbackNumber,
            staticNumbers: pool.staticNumbers.map { number in
                .init(
                    number: number.number, utmSource: number.utmSource.isEmpty ? nil : number.utmSource,
                    utmMedium: number.utmMedium.isEmpty ? nil : number.utmMedium,
                    utmCampaign: number.utmCampaign.isEmpty ? nil : number.utmCampaign)
            },
            officeNumbers: pool.officeNumbers)
    }

    var wire: Stitch_V1_NumberPool {
        .with {
            $0.dynamicNumbers = dynamicNumbers ?? []
            $0.holdSeconds = UInt32(clamping: holdSeconds ?? 0)
            $0.fallbackNumber = fallbackNumber ?? ""
            $0.staticNumbers = (staticNumbers ?? []).map { number in
                .with {
                    $0.number = number.number
                    $0.utmSource = number.utmSource ?? ""
                    $0.utmMedium = number.utmMedium ?? ""
                    $0.utmCampaign = number.utmCampaign ?? ""
                }
            }
            $0.officeNumbers = officeNumbers ?? []
        }
    }
}

extension Components.Schemas.PoolState {
    init(_ pool: Stitch_V1_PoolResponse) {
        self.init(
            site: Int32(bitPattern: pool.site), pool: pool.hasPool ? .init(pool.pool) : nil,
            numbersHeld: Int(pool.numbersHeld))
    }
}

extension Components.Schemas.Repair {
    init(_ repair: Stitch_V1_RepairResponse) {
        self.init(
            changed: repair.changed, identifierNode: Int64(bitPattern: repair.identifierNode),
            personsRepaired: Int64(repair.personsRepaired), personIds: repair.personIds.map { Int64(bitPattern: $0) },
            lastChangeSeq: Int64(bitPattern: repair.lastChangeSeq))
    }
}

extension Components.Schemas.Erasure {
    init(_ erasure: Stitch_V1_ForgetResponse) {
        self.init(
            erasureSeq: Int64(bitPattern: erasure.erasureSeq), timeMs: erasure.timeMs,
            identifierHash: erasure.identifierHash.map { String(format: "%02x", $0) }.joined(),
            personId: Int64(bitPattern: erasure.personID), identifiers: Int64(erasure.identifiers),
            events: Int64(erasure.events), leases: Int64(erasure.leases), calls: Int64(erasure.calls))
    }
}

extension Components.Schemas._Error {
    init(_ failure: QueryFailure) {
        self.init(code: CodePayload(rawValue: failure.label.uppercased()) ?? ._internal, message: failure.message)
    }
}

extension QueryFailure {
    /// The HTTP status of the JSON API's answer with this failure.
    var httpStatus: Int {
        switch code {
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .invalidArgument, .badFrame: 400
        case .notFound: 404
        case .responseTooLarge: 413
        case .unsupported: 501
        case .unavailable, .tooManyInFlight: 503
        case .internal, .unspecified, .UNRECOGNIZED: 500
        }
    }
}
