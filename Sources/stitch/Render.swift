import Foundation
import StitchIdentity
import StitchWire

/// Human-readable renderings of query responses for the CLI.
enum Render {
    static func person(_ person: Stitch_V1_Person) -> String {
        var lines = [
            "person \(person.personID)  site \(person.site)",
            "  seen      \(time(person.firstSeenMs)) … \(time(person.lastSeenMs))",
            "  events    \(person.eventCount)" + (person.eventCounts.isEmpty ? "" : "  (" + person.eventCounts.map { "\(eventName($0.type)) \($0.count)" }.joined(separator: ", ") + ")"),
            "  identifiers \(person.identifierCount)",
        ]
        for identifier in person.identifiers {
            let kind = IdentifierKind(rawValue: UInt8(clamping: identifier.kind.rawValue))?.name ?? "kind \(identifier.kind.rawValue)"
            lines.append("    \(kind.padding(toLength: 13, withPad: " ", startingAt: 0)) \(identifier.value)  (since \(time(identifier.firstSeenMs)))")
        }
        return lines.joined(separator: "\n")
    }

    static func history(_ history: Stitch_V1_HistoryResponse) -> String {
        var lines = ["person \(history.personID): \(history.events.count) events"]
        for event in history.events {
            let beacon = event.beacon
            lines.append("  \(time(beacon.timeMs))  #\(event.seq)  \(body(beacon))")
        }
        if !history.nextCursor.isEmpty {
            lines.append("more: --cursor \(history.nextCursor.map { String(format: "%02x", $0) }.joined())")
        }
        return lines.joined(separator: "\n")
    }

    static func body(_ beacon: Stitch_V1_Beacon) -> String {
        switch beacon.body {
        case .visit(let visit):
            let source = [visit.utmSource, visit.utmMedium, visit.utmCampaign].filter { !$0.isEmpty }.joined(separator: "/")
            return "visit \(visit.landingURL)" + (source.isEmpty ? "" : "  [\(source)]")
        case .hit(let hit): return "hit \(hit.url)"
        case .numberShown(let shown): return "number shown \(shown.trackingNumber)"
        case .form(let form): return "form \(form.formID) phone=\(form.phone) email=\(form.email)"
        case .call(let call): return "call from \(call.callerPhone) to \(call.trackingNumber), \(call.durationS) s"
        case .chat(let chat): return "chat \(chat.provider):\(chat.chatID)"
        case .deal(let deal): return "deal \(deal.dealID) \(deal.status) \(deal.revenueMinor) \(deal.currency)"
        case nil: return "event"
        }
    }

    /// `stitch.v1.EventType` names by raw value, as the CLI reads and prints them.
    static let eventTypeNames = ["unspecified", "visit", "hit", "number_shown", "form", "call", "chat", "deal"]

    static func eventName(_ type: Stitch_V1_EventType) -> String {
        eventTypeNames[max(0, min(eventTypeNames.count - 1, type.rawValue))]
    }

    /// The event type a CLI name stands for (not `unspecified`).
    static func eventType(named name: String) -> Stitch_V1_EventType? {
        guard let index = eventTypeNames.firstIndex(of: name), index > 0 else { return nil }
        return Stitch_V1_EventType(rawValue: index)
    }

    static func time(_ ms: Int64) -> String {
        guard ms > 0 else { return "-" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    static func bytes(_ count: UInt64) -> String {
        count >= 1 << 30 ? String(format: "%.1f GiB", Double(count) / Double(1 << 30))
            : String(format: "%.1f MiB", Double(count) / Double(1 << 20))
    }
}
