import Foundation
import StitchGraph
import StitchIdentity
import StitchWire

/// Why a log entry could not be read back. A replica that meets one stops
/// applying that partition (docs/cluster.md): skipping it would make its
/// store differ from its peers'.
public struct LogEntryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The cluster log's entry format (`proto/log.proto`): what a collector
/// prepared, in the form every replica applies.
public enum LogEntryFormat {
    /// The one format written; a replica refuses any other.
    public static let current: UInt32 = 1
}

extension Stitch_V1_LogEvent {
    /// An event exactly as the writer would apply it.
    public init(_ event: PreparedEvent) {
        self.init()
        site = event.site
        eventID = event.eventID
        timeMs = event.timeMs
        receivedMs = event.receivedMs
        type = UInt32(event.type.rawValue)
        identifiers = event.identifiers.map(Stitch_V1_LogIdentifier.init)
        body = Data(event.body)
        if let number = event.trackingNumber { trackingNumber = number }
        callStartMs = event.callStartMs
        if let index = event.callerPhoneIndex { callerPhoneIndex = UInt32(index) }
        if let key = event.dealKey { dealKey = key }
        if let index = event.dealContactIndex { dealContactIndex = UInt32(index) }
    }
}

extension PreparedEvent {
    /// The event a log entry carries. Identifiers were normalized by the
    /// collector that published it and are taken as they are; refusals were
    /// counted there and are not carried.
    public init(_ event: Stitch_V1_LogEvent) throws(LogEntryError) {
        guard let type = EventType(rawValue: Int(event.type)) else {
            throw LogEntryError("unknown event type \(event.type)")
        }
        var identifiers: [NormalizedIdentifier] = []
        identifiers.reserveCapacity(event.identifiers.count)
        for identifier in event.identifiers { identifiers.append(try NormalizedIdentifier(identifier)) }
        func index(_ has: Bool, _ value: UInt32, _ name: String) throws(LogEntryError) -> Int? {
            guard has else { return nil }
            guard Int(value) < identifiers.count else { throw LogEntryError("\(name) \(value) is past the event's \(identifiers.count) identifiers") }
            return Int(value)
        }
        self.init(
            site: event.site, eventID: event.eventID, timeMs: event.timeMs, receivedMs: event.receivedMs, type: type,
            identifiers: identifiers, body: [UInt8](event.body),
            trackingNumber: event.hasTrackingNumber ? event.trackingNumber : nil,
            callStartMs: event.callStartMs,
            callerPhoneIndex: try index(event.hasCallerPhoneIndex, event.callerPhoneIndex, "caller_phone_index"),
            dealKey: event.hasDealKey ? event.dealKey : nil,
            dealContactIndex: try index(event.hasDealContactIndex, event.dealContactIndex, "deal_contact_index"))
    }
}

extension NormalizedIdentifier {
    /// An identifier a log entry carries, normalized by the node that wrote it.
    public init(_ wire: Stitch_V1_LogIdentifier) throws(LogEntryError) {
        guard wire.kind <= UInt32(UInt8.max), let kind = IdentifierKind(rawValue: UInt8(wire.kind)) else {
            throw LogEntryError("unknown identifier kind \(wire.kind)")
        }
        self.init(uncheckedKind: kind, value: wire.value)
    }
}

extension Stitch_V1_LogIdentifier {
    public init(_ identifier: NormalizedIdentifier) {
        self.init()
        kind = UInt32(identifier.kind.rawValue)
        value = identifier.value
    }
}

extension Stitch_V1_LogRenewal {
    public init(_ renewal: LeaseRenewal) {
        self.init()
        site = renewal.site
        session = renewal.session
        timeMs = renewal.timeMs
        if let number = renewal.trackingNumber { trackingNumber = number }
    }
}

extension LeaseRenewal {
    public init(_ renewal: Stitch_V1_LogRenewal) {
        self.init(
            site: renewal.site, session: renewal.session, timeMs: renewal.timeMs,
            trackingNumber: renewal.hasTrackingNumber ? renewal.trackingNumber : nil)
    }
}

extension Stitch_V1_LogEntry {
    /// Decodes a log entry's bytes and checks its format.
    public init(logEntry bytes: [UInt8]) throws(LogEntryError) {
        do {
            self = try Stitch_V1_LogEntry(serializedBytes: bytes)
        } catch {
            throw LogEntryError("not a log entry: \(error)")
        }
        guard format == LogEntryFormat.current else {
            throw LogEntryError("entry format \(format); this build reads \(LogEntryFormat.current) (upgrade the node)")
        }
    }
}

extension ApplySegment {
    /// Decodes and checks a log entry's bytes (one of events and renewals).
    public init(logEntry bytes: [UInt8]) throws(LogEntryError) {
        try self.init(try Stitch_V1_LogEntry(logEntry: bytes))
    }

    /// The events and renewals of a decoded entry.
    public init(_ entry: Stitch_V1_LogEntry) throws(LogEntryError) {
        var events: [PreparedEvent] = []
        events.reserveCapacity(entry.events.count)
        for event in entry.events { events.append(try PreparedEvent(event)) }
        self.init(
            events: events, renewals: entry.renewals.map(LeaseRenewal.init), nowMs: entry.publishedMs,
            identifierSecret: entry.identifierSecret.isEmpty ? nil : [UInt8](entry.identifierSecret))
    }
}
