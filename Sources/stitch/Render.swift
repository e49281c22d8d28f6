import ArgumentParser
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
            let kind = kindName(identifier.kind)
            lines.append("    \(kind.padding(toLength: 13, withPad: " ", startingAt: 0)) \(identifier.value)  (since \(time(identifier.firstSeenMs)))")
        }
        return lines.joined(separator: "\n")
    }

    /// - Parameter deviceTimes: also show, for events stamped by a visitor's
    ///   device, the device's own time (event times are on the server's clock).
    static func history(_ history: Stitch_V1_HistoryResponse, deviceTimes: Bool = false) -> String {
        var lines = ["person \(history.personID): \(history.events.count) events"]
        for event in history.events {
            let beacon = event.beacon
            let device = deviceTimes && beacon.deviceTimeMs != 0 ? "  (device clock \(time(beacon.deviceTimeMs)))" : ""
            lines.append("  \(time(beacon.timeMs))  #\(event.seq)  \(body(beacon))\(device)")
            if event.hasCallMatch { lines.append("      matched: \(callMatch(event.callMatch))") }
            if event.hasConversion { lines.append("      " + conversion(event.conversion)) }
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
        case .deal(let deal): return "deal \(deal.dealID) \(deal.status) \(money(deal.revenueMinor)) \(deal.currency)"
        case .leaseRenewal(let renewal): return "lease renewal \(renewal.trackingNumber)"
        case nil: return "event"
        }
    }

    static func callMatch(_ match: Stitch_V1_CallMatch) -> String {
        switch match.kind {
        case .session: "session \(match.session) (lease of \(match.trackingNumber))"
        case .static: "static number \(match.trackingNumber) → \(source(match.source))"
        case .unknown: "unknown traffic (no lease of \(match.trackingNumber) covered it)"
        case .office: "the site's own number \(match.trackingNumber)"
        default: "-"
        }
    }

    static func conversion(_ conversion: Stitch_V1_Conversion) -> String {
        let flags = [conversion.unique ? "unique" : "repeat", conversion.target ? "target" : nil].compactMap { $0 }
        let credits = conversion.credits.map { credit in
            source(credit.source) + String(format: " %.1f%%", credit.weight * 100)
                + (credit.revenueMinor != 0 ? " = \(money(credit.revenueMinor))" : "")
        }
        return flags.joined(separator: ", ") + (credits.isEmpty ? "" : "; credit: " + credits.joined(separator: ", "))
    }

    /// Revenue in minor units (kopecks, cents: what the adapters store) as an
    /// amount with two decimals, `12500.00`.
    static func money(_ minor: Int64) -> String {
        let sign = minor < 0 ? "-" : ""
        let magnitude = minor.magnitude
        return sign + "\(magnitude / 100)." + String(format: "%02d", Int(magnitude % 100))
    }

    /// `source/medium/campaign [channel]`, e.g. `yandex/cpc/brand [paid search]`.
    static func source(_ source: Stitch_V1_Source) -> String {
        switch source.kind {
        case .direct: return "(direct)"
        case .unknownCall: return "(unknown call)"
        default:
            let name = [source.source, source.medium, source.campaign].filter { !$0.isEmpty }.joined(separator: "/")
            return name + " [\(channelName(source.channel))]"
        }
    }

    /// A channel as analysts say it: `paid search`, `organic search`, ….
    static func channelName(_ channel: Stitch_V1_Channel) -> String {
        switch channel {
        case .paidSearch: "paid search"
        case .organicSearch: "organic search"
        case .paidSocial: "paid social"
        case .social: "social"
        case .referral: "referral"
        case .email: "e-mail"
        case .messenger: "messenger"
        case .internal: "internal"
        case .direct: "direct"
        case .display: "display"
        case .offline: "offline"
        case .other: "other"
        case .unspecified, .UNRECOGNIZED: "unknown"
        }
    }

    static func explain(_ answer: Stitch_V1_ExplainResponse, a: String, b: String) -> String {
        switch answer.verdict {
        case .linked:
            var lines = ["\(a) and \(b) are one person (\(answer.personA))" + (answer.steps.isEmpty ? "" : ":")]
            for step in answer.steps {
                lines.append("  \(step.from.value) → \(step.to.value)  by \(eventName(step.eventType)) #\(step.eventSeq) at \(time(step.timeMs)) (\(step.via))")
            }
            return lines.joined(separator: "\n")
        case .refused:
            return "\(a) (person \(answer.personA)) and \(b) (person \(answer.personB)) are not linked: event #\(answer.refusal.eventSeq) at \(time(answer.refusal.timeMs)) tried to link them and the guard \(answer.refusal.reason) refused"
        case .notLinked:
            return "\(a) (person \(answer.personA)) and \(b) (person \(answer.personB)) are not linked: no event links them"
        default:
            return "unknown: \(a) or \(b) was never seen in this site"
        }
    }

    /// Attribution models by their CLI names.
    static let attributionModels: [String: Stitch_V1_AttributionModel] = [
        "first_click": .firstClick, "last_click": .lastClick, "last_non_direct": .lastNonDirect,
        "linear": .linear, "time_decay": .timeDecay, "position": .position,
    ]

    /// A raw identifier from CLI words.
    /// An identifier kind's name as DESIGN.md spells it (`ga_client_id`, …).
    static func kindName(_ kind: Stitch_V1_IdentifierKind) -> String {
        IdentifierKind(rawValue: UInt8(clamping: kind.rawValue))?.name ?? "kind \(kind.rawValue)"
    }

    static func identifier(_ kind: String, _ value: String, namespace: String) throws -> Stitch_V1_Identifier {
        guard let identifierKind = IdentifierKind(name: kind) else {
            throw ValidationError("unknown kind '\(kind)'; one of \(IdentifierKind.allCases.map(\.name).joined(separator: ", "))")
        }
        return .with {
            $0.kind = Stitch_V1_IdentifierKind(rawValue: Int(identifierKind.rawValue)) ?? .unspecified
            $0.value = value
            $0.namespace = namespace
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
