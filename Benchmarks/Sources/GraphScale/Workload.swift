import StitchWire

/// Tracker-like traffic for the graph benchmark, deterministic for a seed.
///
/// Persons have a tracker cookie and a GA client id; every visit opens a new
/// session and sends a visit beacon and a few hits, each carrying cookie,
/// session and client id (three identifiers per event). Visits of many
/// persons interleave, as on a busy site; one visit in twenty leaves a form
/// with a phone.
struct Workload {
    var random: SplitMix64
    let site: UInt32 = 1
    /// Persons created so far; person ids are 0..<persons.
    private(set) var persons = 0
    private var visits = 0
    private var time: Int64 = 1_767_225_600_000
    /// Visits in progress: (person, session number, hits left).
    private var open: [(person: Int, session: Int, hitsLeft: Int)] = []

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    static func cookie(_ person: Int) -> String { "ck\(String(person, radix: 36))x7Hq2L" }
    static func gaClientID(_ person: Int) -> String { "\(1_000_000_000 + person).1700000000" }
    static func session(_ person: Int, _ visit: Int) -> String { "ss\(String(person, radix: 36)).\(visit)" }

    /// Events that create brand-new persons (three new identifiers each),
    /// used to fill a store to a given number of identifiers quickly.
    mutating func newPersonEvents(_ count: Int) -> [Stitch_V1_Beacon] {
        (0..<count).map { _ in
            let person = persons
            persons += 1
            visits += 1
            time += 1
            return beacon(person: person, session: visits, visit: true)
        }
    }

    /// Realistic traffic: `returningShare` of visits come from existing persons
    /// (chosen uniformly, the worst case for locality), the rest are new.
    mutating func trafficEvents(_ count: Int, returningShare: Double = 0.7, concurrentVisits: Int = 200) -> [Stitch_V1_Beacon] {
        var events: [Stitch_V1_Beacon] = []
        events.reserveCapacity(count)
        while events.count < count {
            while open.count < concurrentVisits {
                let returning = persons > 0 && Double(random.next() % 1000) / 1000 < returningShare
                let person = returning ? Int(random.next() % UInt64(persons)) : { defer { persons += 1 }; return persons }()
                visits += 1
                open.append((person, visits, Int(random.next() % 9) + 1))
                events.append(beacon(person: person, session: visits, visit: true))
            }
            let index = Int(random.next() % UInt64(open.count))
            time += 7
            var hit = beacon(person: open[index].person, session: open[index].session, visit: false)
            if random.next() % 20 == 0 {
                hit.form = .with { $0.formID = "callback"; $0.phone = "8 (916) \(100 + open[index].person % 900)-\(10 + open[index].person % 90)-\(10 + open[index].person % 89)" }
            }
            events.append(hit)
            open[index].hitsLeft -= 1
            if open[index].hitsLeft == 0 { open.swapAt(index, open.count - 1); open.removeLast() }
        }
        return Array(events.prefix(count))
    }

    private func beacon(person: Int, session: Int, visit: Bool) -> Stitch_V1_Beacon {
        .with {
            $0.site = site
            $0.timeMs = time
            $0.identifiers = [
                .with { $0.kind = .cookie; $0.value = Self.cookie(person) },
                .with { $0.kind = .session; $0.value = Self.session(person, session) },
                .with { $0.kind = .gaClientID; $0.value = Self.gaClientID(person) },
            ]
            if visit {
                $0.visit = .with { $0.utmSource = "yandex"; $0.utmMedium = "cpc"; $0.landingURL = "https://shop.example/?utm_source=yandex" }
            } else {
                $0.hit = .with { $0.url = "https://shop.example/catalog/\(session % 97)" }
            }
        }
    }
}

/// A small seeded generator (the benchmark must not depend on test modules).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
