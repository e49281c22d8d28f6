import Foundation
import StitchRandom
import StitchWire

/// A plain, seeded beacon stream shaped like a live site's: a pool of visits
/// in progress, each one a session of a visitor (tracker cookie) that starts
/// with a `visit` beacon (UTM tags) and goes on with page hits, now and then
/// a form with a phone (which links the phone to the visitor) or a chat. A
/// finished visit is replaced by a new one of a random visitor, so returning
/// visitors come back with a new session under their old cookie.
///
/// Deterministic for a seed. The full synthetic world with ground truth is
/// the load harness's job; this stream is for throughput and latency.
public struct SimpleTraffic {
    struct Visit {
        var site: UInt32
        var person: Int
        var session: String
        var beaconsLeft: Int
        var started = false
    }

    public let sites: Int
    /// Sites are `firstSite` … `firstSite + sites - 1`.
    public let firstSite: UInt32
    public let persons: Int
    private var random: SplitMix64
    private var clockMs: Int64
    private var visits: [Visit] = []
    private var sessionsStarted = 0
    private let stream: UInt64
    private let randomSessionIDs: Bool

    /// - Parameters:
    ///   - persons: visitors per site (cookies).
    ///   - activeVisits: visits in progress at once.
    ///   - firstSite: the lowest site number (a second generator on other sites: quota tests).
    ///   - randomSessionIDs: sessions named as the tracker names them, 24
    ///     random hex digits, instead of by a counter. Counter names sort
    ///     in order, so each new session's `ident` entry is an append; the
    ///     tracker's land on a random leaf of that table.
    public init(
        seed: UInt64, sites: Int, persons: Int, activeVisits: Int = 2000, startMs: Int64, firstSite: UInt32 = 1,
        randomSessionIDs: Bool = false
    ) {
        self.randomSessionIDs = randomSessionIDs
        self.sites = max(1, sites)
        self.firstSite = max(1, firstSite)
        self.persons = max(1, persons)
        self.random = SplitMix64(seed: seed)
        self.clockMs = startMs
        self.stream = seed
        visits.reserveCapacity(activeVisits)
        for _ in 0..<max(1, activeVisits) { visits.append(newVisit()) }
    }

    /// A known identifier of some visitor, for lookups: (site, cookie).
    public mutating func someCookie() -> (site: UInt32, value: String) {
        let site = firstSite + UInt32(random.next(below: sites))
        return (site, Self.cookie(site: site, person: random.next(below: persons)))
    }

    public mutating func next() -> Stitch_V1_Beacon {
        let index = random.next(below: visits.count)
        var visit = visits[index]
        clockMs += 1
        let beacon = beacon(for: visit)
        visit.started = true
        visit.beaconsLeft -= 1
        visits[index] = visit.beaconsLeft > 0 ? visit : newVisit()
        return beacon
    }

    private mutating func newVisit() -> Visit {
        sessionsStarted += 1
        let site = firstSite + UInt32(random.next(below: sites))
        return Visit(
            site: site,
            person: random.next(below: persons),
            session: randomSessionIDs
                ? String(random.nextValue(), radix: 16).leftPadded(16) + String(random.next(below: 1 << 32), radix: 16).leftPadded(8)
                : "s\(stream)-\(sessionsStarted)-session",
            beaconsLeft: 3 + random.next(below: 23))
    }

    private mutating func beacon(for visit: Visit) -> Stitch_V1_Beacon {
        let roll = random.next(below: 100)
        let person = visit.person
        var beacon = Stitch_V1_Beacon.with {
            $0.site = visit.site
            $0.timeMs = clockMs
            $0.eventID = random.nextValue()
            $0.identifiers = [
                .with {
                    $0.kind = .cookie
                    $0.value = Self.cookie(site: visit.site, person: person)
                },
                .with {
                    $0.kind = .session
                    $0.value = visit.session
                },
            ]
        }
        if !visit.started {
            let sources = [("yandex", "cpc"), ("google", "cpc"), ("vk", "social"), ("", "")]
            let (source, medium) = sources[random.next(below: sources.count)]
            beacon.visit = .with {
                $0.utmSource = source
                $0.utmMedium = medium
                $0.utmCampaign = source.isEmpty ? "" : "spring-\(random.next(below: 20))"
                $0.landingURL = "https://shop\(visit.site).example/?utm_source=\(source)"
            }
        } else if roll < 95 {
            beacon.hit = .with {
                $0.type = .pageview
                $0.url = "https://shop\(visit.site).example/catalog/item-\(random.next(below: 5000))"
            }
        } else if roll < 99 {
            beacon.form = .with {
                $0.formID = "callback"
                $0.phone = String(
                    format: "+7 (9%02d) %03d-%02d-%02d", person % 100, (person / 100) % 1000, (person / 100_000) % 100,
                    Int(visit.site))
            }
        } else {
            beacon.chat = .with {
                $0.provider = "jivo"
                $0.chatID = "chat-\(person)"
            }
        }
        return beacon
    }

    public static func cookie(site: UInt32, person: Int) -> String {
        "ck\(site)x\(person)abcdef"
    }
}

extension String {
    /// Zeros in front up to `width` characters (hex ids of a fixed length).
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
