import StitchBeacon
import StitchGraph
import StitchIdentity
import StitchMapping
import StitchWire
import Testing

/// Attribution tables and conversion flags on histories whose answers were
/// worked out by hand (the numbers are in the comments).
@Suite("Conversions: attribution models and unique/target flags")
struct ConversionTests {
    static let day: Int64 = 86_400_000
    static let t0: Int64 = 1_780_000_000_000
    static let cookie = "cookie-attribution"

    static func visit(at time: Int64, source: String = "", medium: String = "", campaign: String = "",
                      referrer: String = "") -> Stitch_V1_Beacon {
        var beacon = Beacons.hit(time: time, [(.cookie, cookie)])
        beacon.visit = .with {
            $0.utmSource = source
            $0.utmMedium = medium
            $0.utmCampaign = campaign
            $0.referrer = referrer
            $0.landingURL = "https://shop.example/landing"
        }
        return beacon
    }

    /// Five visits, then a won deal of 1,000.00 on day 7:
    /// V1 day 0 yandex/cpc, V2 day 2 direct, V3 day 5 from news.example,
    /// V4 day 6 google/cpc, V5 day 6.5 from the shop's own page (no new touch).
    static func journey() throws -> TestGraph {
        let test = try TestGraph()
        let t0 = Self.t0, day = Self.day
        var deal = Beacons.hit(time: t0 + 7 * day, [(.cookie, cookie)])
        deal.deal = .with {
            $0.crm = "amocrm"
            $0.dealID = "deal-1"
            $0.contactID = "contact-1"
            $0.status = .won
            $0.revenueMinor = 100_000
            $0.currency = "RUB"
        }
        try test.apply([
            visit(at: t0, source: "yandex", medium: "cpc", campaign: "brand"),
            visit(at: t0 + 2 * day),
            visit(at: t0 + 5 * day, referrer: "https://news.example/article"),
            visit(at: t0 + 6 * day, source: "google", medium: "cpc", campaign: "generic"),
            visit(at: t0 + 6 * day + day / 2, referrer: "https://www.shop.example/cart"),
            deal,
        ])
        return test
    }

    /// A history page as the query server answers it: read with the context
    /// attribution needs, mapped to wire events and annotated.
    static func history(
        _ test: TestGraph, _ kind: IdentifierKind, _ value: String, types: Set<EventType> = [],
        _ options: ConversionOptions
    ) throws -> Stitch_V1_HistoryResponse {
        let page = try #require(try test.graph.history(
            site: 1, identifier: NormalizedIdentifier(uncheckedKind: kind, value: value),
            query: HistoryQuery(types: types, conversionContextMs: options.contextMs)))
        return Stitch_V1_HistoryResponse(page, conversions: options)
    }

    /// source → (weight, revenue) of the deal's credits under `model`.
    static func table(_ test: TestGraph, _ model: Stitch_V1_AttributionModel, lookbackMs: Int64 = 30 * day)
        throws -> [String: (weight: Double, revenue: Int64)]
    {
        let page = try history(
            test, .cookie, cookie, types: [.deal], ConversionOptions(model: model, lookbackMs: lookbackMs))
        let credits = try #require(page.events.first).conversion.credits
        #expect(abs(credits.map(\.weight).reduce(0, +) - 1) < 1e-9, "weights sum to 1")
        #expect(credits.map(\.revenueMinor).reduce(0, +) == 100_000, "revenue shares sum to the revenue")
        var table: [String: (Double, Int64)] = [:]
        for credit in credits {
            let name = credit.source.kind == .direct ? "(direct)" : credit.source.source
            table[name] = (credit.weight, credit.revenueMinor)
        }
        return table
    }

    static func expect(_ table: [String: (weight: Double, revenue: Int64)], _ expected: [String: (Double, Int64)],
                       revenueSlack: Int64 = 0, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(table.keys) == Set(expected.keys), sourceLocation: sourceLocation)
        for (source, (weight, revenue)) in expected {
            let actual = table[source]
            #expect(abs((actual?.weight ?? -1) - weight) < 1e-6, "\(source) weight", sourceLocation: sourceLocation)
            #expect(abs((actual?.revenue ?? -1) - revenue) <= revenueSlack, "\(source) revenue", sourceLocation: sourceLocation)
        }
    }

    @Test func everyModelOnAHandComputedJourney() throws {
        let test = try Self.journey()
        // V5 came from the shop's own page: no new touch, so four touches.
        Self.expect(try Self.table(test, .firstClick), ["yandex": (1, 100_000)])
        Self.expect(try Self.table(test, .lastClick), ["google": (1, 100_000)])
        Self.expect(try Self.table(test, .lastNonDirect), ["google": (1, 100_000)])
        Self.expect(try Self.table(test, .unspecified), ["google": (1, 100_000)])  // the default
        // Linear: four visits, 1/4 each.
        Self.expect(try Self.table(test, .linear), [
            "(direct)": (0.25, 25_000), "yandex": (0.25, 25_000), "news.example": (0.25, 25_000), "google": (0.25, 25_000),
        ])
        // Position: 40% first (yandex), 40% last (google), 20% over the two
        // in the middle (direct, news): 1/10 each.
        Self.expect(try Self.table(test, .position), [
            "yandex": (0.4, 40_000), "google": (0.4, 40_000), "(direct)": (0.1, 10_000), "news.example": (0.1, 10_000),
        ])
        // Time decay, half-life 7 days: ages 7, 5, 2, 1 days give raw
        // weights 0.5, 0.609507, 0.820335, 0.905724 (sum 2.835566).
        Self.expect(try Self.table(test, .timeDecay), [
            "yandex": (0.176332, 17_633), "(direct)": (0.214951, 21_495),
            "news.example": (0.289302, 28_930), "google": (0.319415, 31_942),
        ])
        // A 3-day lookback leaves V3, V4 (and V5, no touch): the first of them is news.example.
        Self.expect(try Self.table(test, .firstClick, lookbackMs: 3 * Self.day), ["news.example": (1, 100_000)])
    }

    @Test func theCreditPointsAtTheCreditedVisit() throws {
        let test = try Self.journey()
        let page = try Self.history(test, .cookie, Self.cookie, ConversionOptions(model: .firstClick))
        let deal = try #require(page.events.last)
        #expect(deal.conversion.credits.first?.visitSeq == page.events.first?.seq)
        #expect(page.events.dropLast().allSatisfy { !$0.hasConversion }, "visits are not conversions")
    }

    @Test func conversionsWithoutVisits() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Self.t0
        try test.apply([
            Calls.call(from: "+79160000001", to: "+74952000000", at: t0),  // the billboard's static number
            Calls.call(from: "+79160000002", at: t0),  // no lease covers it
            Beacons.form(time: t0, cookie: "cookie-lonely", phone: "+79160000003"),
        ])
        func source(_ kind: IdentifierKind, _ value: String) throws -> Stitch_V1_Source {
            let page = try Self.history(test, kind, value, ConversionOptions())
            return try #require(page.events.first?.conversion.credits.first).source
        }
        #expect(try source(.phone, "+79160000001") == .with {
            $0.kind = .staticNumber
            $0.source = "billboard"
            $0.medium = "offline"
            $0.channel = .offline
        })
        #expect(try source(.phone, "+79160000002").kind == .unknownCall)
        #expect(try source(.cookie, "cookie-lonely").kind == .direct)
    }

    @Test func uniqueAndTargetFlagsAcrossPeriods() throws {
        let test = try TestGraph()
        let t0 = Self.t0, day = Self.day
        let phone = "+79160000077"
        try test.apply([
            Calls.call(from: phone, to: "", at: t0, seconds: 40),
            Calls.call(from: phone, to: "", at: t0 + 3 * day, seconds: 10),
            Calls.call(from: phone, to: "", at: t0 + 12 * day, seconds: 30),
            Beacons.form(time: t0, cookie: "cookie-flags", phone: phone),
            Beacons.form(time: t0 + 8 * day, cookie: "cookie-flags", phone: phone),
        ])
        func flags(_ type: EventType, period: Int64) throws -> [(unique: Bool, target: Bool)] {
            let page = try Self.history(test, .phone, phone, types: [type], ConversionOptions(uniquePeriodMs: period))
            return page.events.map { ($0.conversion.unique, $0.conversion.target) }
        }
        // 7-day period, 30-second target: day 3 repeats day 0; day 12 is unique again.
        #expect(try flags(.call, period: 7 * day).map(\.unique) == [true, false, true])
        #expect(try flags(.call, period: 7 * day).map(\.target) == [true, false, true])
        #expect(try flags(.call, period: 10 * day).map(\.unique) == [true, false, false])
        // Forms are judged against forms only: day 8 is unique under 7 days, not under 10.
        #expect(try flags(.form, period: 7 * day).map(\.unique) == [true, true])
        #expect(try flags(.form, period: 10 * day).map(\.unique) == [true, false])
        #expect(try flags(.form, period: 10 * day).map(\.target) == [false, false])
    }
}
