import Foundation
import StitchWire

/// A plain, seeded beacon stream for measuring the service: visitors with a
/// cookie and sessions, mostly page hits, some visits with UTM tags, forms
/// with a phone (which links the phone to the visitor) and chats.
///
/// Deterministic for a seed. Each call to `next` gives one beacon of a
/// visitor chosen uniformly among `persons` per site, so after a warm-up
/// most beacons hit existing identifiers, as a live site's do.
struct SimpleTraffic {
    let sites: Int
    let persons: Int
    private var random: SplitMix64
    private var clockMs: Int64

    init(seed: UInt64, sites: Int, persons: Int, startMs: Int64) {
        self.sites = max(1, sites)
        self.persons = max(1, persons)
        self.random = SplitMix64(seed: seed)
        self.clockMs = startMs
    }

    /// A known identifier of some visitor, for lookups: (site, cookie).
    mutating func someCookie() -> (site: UInt32, value: String) {
        let site = UInt32(1 + random.next(below: sites))
        return (site, Self.cookie(site: site, person: random.next(below: persons)))
    }

    mutating func next() -> Stitch_V1_Beacon {
        let site = UInt32(1 + random.next(below: sites))
        let person = random.next(below: persons)
        let session = person &* 31 &+ Int(clockMs / 1_800_000)  // a new session every 30 minutes
        clockMs += 1
        let roll = random.next(below: 100)
        return Stitch_V1_Beacon.with {
            $0.site = site
            $0.timeMs = clockMs
            $0.eventID = random.nextValue()
            $0.identifiers = [
                .with {
                    $0.kind = .cookie
                    $0.value = Self.cookie(site: site, person: person)
                },
                .with {
                    $0.kind = .session
                    $0.value = "s\(site)-\(session)-session"
                },
            ]
            switch roll {
            case 0..<78:
                $0.hit = .with {
                    $0.type = .pageview
                    $0.url = "https://shop\(site).example/catalog/item-\(random.next(below: 5000))"
                }
            case 78..<95:
                $0.visit = .with {
                    let sources = [("yandex", "cpc"), ("google", "cpc"), ("vk", "social"), ("", "")]
                    let (source, medium) = sources[random.next(below: sources.count)]
                    $0.utmSource = source
                    $0.utmMedium = medium
                    $0.utmCampaign = source.isEmpty ? "" : "spring-\(random.next(below: 20))"
                    $0.landingURL = "https://shop\(site).example/?utm_source=\(source)"
                }
            case 95..<99:
                $0.form = .with {
                    $0.formID = "callback"
                    $0.phone = "+7 (9\(String(format: "%02d", person % 100))) \(100 + person % 900)-\(10 + person % 90)-\(10 + (person / 90) % 90)"
                }
            default:
                $0.chat = .with {
                    $0.provider = "jivo"
                    $0.chatID = "chat-\(person)"
                }
            }
        }
    }

    static func cookie(site: UInt32, person: Int) -> String {
        "ck\(site)x\(person)abcdef"
    }
}

/// SplitMix64: tiny, fast, seedable; good enough for traffic shapes.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextValue() -> UInt64 { next() }

    mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}
