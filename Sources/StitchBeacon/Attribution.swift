import Foundation
import StitchIdentity
import StitchWire

/// Conversion flags and credited sources, computed from a person's events
/// when a history is read (pure: no store, no clock).
///
/// Computing at read time, not at ingest, keeps the answers right when
/// persons merge later or events arrive late: a merge that brings in an
/// earlier call turns a "unique" call into a repeat one on the next read.
public enum Attribution {
    /// Fills `conversion` of every conversion in `page` from `context`: the
    /// person's visits and conversions from `options.contextMs` before the
    /// page's earliest conversion up to its latest, in (time, seq) order.
    public static func annotate(_ page: inout [Stitch_V1_Event], context: [Stitch_V1_Event], options: ConversionOptions) {
        // Each visit is classified once per page, however many conversions
        // it may be credited for; nil: no new touch.
        var visits: [Touch] = []
        for event in context where event.beacon.body.isVisit {
            visits.append(Touch(event: event, source: options.classifier.source(of: event.beacon.visit)))
        }
        for index in page.indices where isConversion(page[index]) {
            page[index].conversion = conversion(of: page[index], visits: visits, context: context, options: options)
        }
    }

    /// A visit and its source (nil when it is no new touch).
    struct Touch {
        let event: Stitch_V1_Event
        let source: Stitch_V1_Source?
    }

    /// Forms, calls, chats and deals get flags; forms, calls, chats and won
    /// deals get credits.
    static func isConversion(_ event: Stitch_V1_Event) -> Bool {
        EventType(event.beacon.body).isConversion
    }

    static func conversion(
        of event: Stitch_V1_Event, visits: [Touch], context: [Stitch_V1_Event], options: ConversionOptions
    ) -> Stitch_V1_Conversion {
        var conversion = Stitch_V1_Conversion()
        let time = event.beacon.timeMs
        let type = EventType(event.beacon.body)
        conversion.unique = !context.contains { other in
            EventType(other.beacon.body) == type && other.beacon.timeMs >= time - options.uniquePeriodMs
                && (other.beacon.timeMs, other.seq) < (time, event.seq)
        }
        if case .call(let call) = event.beacon.body {
            conversion.target = call.durationS >= options.targetCallSeconds
        }
        if case .deal(let deal) = event.beacon.body, deal.status != .won { return conversion }
        conversion.credits = credits(of: event, visits: visits, options: options)
        return conversion
    }

    /// The sources credited for one conversion, largest weight first.
    static func credits(of event: Stitch_V1_Event, visits: [Touch], options: ConversionOptions)
        -> [Stitch_V1_Credit]
    {
        let time = event.beacon.timeMs
        if event.hasCallMatch, event.callMatch.kind == .static {
            return [single(staticNumberSource(event.callMatch.source), event: event)]
        }
        // Visits that are no new touch (back from a payment page, in from the
        // site itself) continue the previous source: they are left out.
        var touches: [Stitch_V1_Event] = []
        var sources: [Stitch_V1_Source] = []
        for visit in visits where visit.event.beacon.timeMs <= time && visit.event.beacon.timeMs >= time - options.lookbackMs {
            guard let source = visit.source else { continue }
            touches.append(visit.event)
            sources.append(source)
        }
        guard !touches.isEmpty else {
            let unknownCall = event.hasCallMatch && event.callMatch.kind == .unknown
            return [single(.with {
                $0.kind = unknownCall ? .unknownCall : .direct
                $0.channel = unknownCall ? .unspecified : .direct
            }, event: event)]
        }
        let weights = weights(model: options.model, sources: sources, times: touches.map(\.beacon.timeMs),
            conversionMs: time, halfLifeMs: options.halfLifeMs)
        // One credit per distinct source; it points at that source's latest visit.
        var credits: [Stitch_V1_Credit] = []
        for (index, weight) in weights.enumerated() where weight > 0 {
            if let existing = credits.firstIndex(where: { $0.source == sources[index] }) {
                credits[existing].weight += weight
                credits[existing].visitSeq = touches[index].seq
            } else {
                credits.append(.with {
                    $0.source = sources[index]
                    $0.weight = weight
                    $0.visitSeq = touches[index].seq
                })
            }
        }
        credits.sort { ($0.weight, $1.visitSeq) > ($1.weight, $0.visitSeq) }
        if case .deal(let deal) = event.beacon.body {
            let shares = split(deal.revenueMinor, weights: credits.map(\.weight))
            for index in credits.indices { credits[index].revenueMinor = shares[index] }
        }
        return credits
    }

    /// A static number's source as its pool declares it, with its channel
    /// (by medium; a static number without one is offline media, what such
    /// numbers are bought for).
    static func staticNumberSource(_ declared: Stitch_V1_Source) -> Stitch_V1_Source {
        var source = declared
        let medium = SourceClassifier.tag(declared.medium)
        source.channel = medium.isEmpty ? .offline : SourceClassifier.channel(medium: medium, source: SourceClassifier.tag(declared.source))
        return source
    }

    private static func single(_ source: Stitch_V1_Source, event: Stitch_V1_Event) -> Stitch_V1_Credit {
        .with {
            $0.source = source
            $0.weight = 1
            if case .deal(let deal) = event.beacon.body { $0.revenueMinor = deal.revenueMinor }
        }
    }

    /// Each touch's weight under `model`; the weights sum to 1.
    static func weights(
        model: Stitch_V1_AttributionModel, sources: [Stitch_V1_Source], times: [Int64], conversionMs: Int64,
        halfLifeMs: Int64
    ) -> [Double] {
        let count = sources.count
        var weights = [Double](repeating: 0, count: count)
        switch model {
        case .firstClick:
            weights[0] = 1
        case .lastClick:
            weights[count - 1] = 1
        case .linear:
            for index in weights.indices { weights[index] = 1 / Double(count) }
        case .timeDecay:
            let halfLife = Double(max(halfLifeMs, 1))
            for index in weights.indices {
                weights[index] = pow(2, -Double(conversionMs - times[index]) / halfLife)
            }
            let total = weights.reduce(0, +)
            for index in weights.indices { weights[index] /= total }
        case .position:
            if count == 1 {
                weights[0] = 1
            } else if count == 2 {
                weights[0] = 0.5
                weights[1] = 0.5
            } else {
                weights[0] = 0.4
                weights[count - 1] = 0.4
                for index in 1..<(count - 1) { weights[index] = 0.2 / Double(count - 2) }
            }
        case .lastNonDirect, .unspecified, .UNRECOGNIZED:
            let last = sources.lastIndex { $0.channel != .direct } ?? count - 1
            weights[last] = 1
        }
        return weights
    }

    /// Splits `total` minor units by `weights` so the shares sum to `total`
    /// exactly (largest remainder; ties to the earlier, larger credit).
    static func split(_ total: Int64, weights: [Double]) -> [Int64] {
        let exact = weights.map { Double(total) * $0 }
        var shares = exact.map { Int64($0.rounded(.down)) }
        var left = total - shares.reduce(0, +)
        let order = exact.indices.sorted { (exact[$0] - exact[$0].rounded(.down)) > (exact[$1] - exact[$1].rounded(.down)) }
        var next = 0
        while left > 0, !order.isEmpty {
            shares[order[next % order.count]] += 1
            left -= 1
            next += 1
        }
        return shares
    }
}

extension Stitch_V1_Beacon.OneOf_Body? {
    fileprivate var isVisit: Bool {
        if case .visit = self { return true }
        return false
    }
}
