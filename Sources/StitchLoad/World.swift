import Foundation
import StitchRandom
import StitchWire

/// A seeded synthetic world per site, with ground truth: persons with one to
/// three devices (tracker cookie, GA and Yandex client ids), visits over days
/// with realistic sources (UTM tags, click ids, referrers, direct), page hits,
/// tracking numbers shown and calls to them, forms with phones and e-mails
/// typed in several formats, chats that carry the tracker cookie, and CRM
/// deals keyed by the phone or e-mail the person left with the site (in a
/// form, a call or a chat), some won with revenue, some deleted.
///
/// Persons with several devices sign in on each (a `user_id` on the device's
/// first visit), unless `anonymousDevicePercent` leaves some devices anonymous.
///
/// Noise on purpose: junk cookie values ("undefined", …) on some hits, the
/// site's shared office phone typed on some forms instead of the visitor's,
/// bot sessions (a new cookie per visit, many hits), callers whose number is
/// hidden, and persons who call without ever typing their phone (only call
/// tracking links such a call: the number dialled was leased to the caller's
/// session). Each site has a small number pool (`World.pool(site:)`), played
/// in time order like a tracker asking for leases; when it is exhausted the
/// fallback number is shown, and calls to it cannot be matched.
///
/// The same seed and parameters give the same events, byte for byte.
public struct World: Sendable {
    /// One generated event and what the generator knows about it.
    public struct Event: Sendable {
        public var beacon: Stitch_V1_Beacon
        /// The true person: `site << 32 | person` (bots count as persons of
        /// their own).
        public var truth: UInt64
        /// An identifier of this event to ask the server "whose is it?"
        /// (its session, else the caller's phone, else the CRM contact);
        /// nil when the event carries none (a hidden caller shown the
        /// fallback number).
        public var probe: Stitch_V1_Identifier?
        /// `number_shown` and calls: the session shown the number (the
        /// caller's own session, for calls). The world's call-tracking truth.
        public var session: String?
    }

    public struct Parameters: Sendable, Equatable {
        public var seed: UInt64 = 1
        public var sites = 2
        public var personsPerSite = 2000
        /// Days the visits spread over.
        public var days = 30
        public var startMs: Int64 = 1_767_225_600_000  // 2026-01-01
        /// Percent of visits made by bots.
        public var botPercent = 2
        /// Persons with several devices have an account and sign in on each
        /// device (a `user_id` on its first visit), which is how cross-device
        /// journeys are linked in practice; this percent of their devices is
        /// never signed in on, and nothing in the beacons links those visits.
        public var anonymousDevicePercent = 0
        /// Percent of persons who are repeat customers on a browser that
        /// resets script cookies every week (Safari, every iOS browser): 6–10
        /// visits 3–10 days apart, each on a new tracker cookie, `_ga` and
        /// `_ym_uid`, most with a form carrying their phone or e-mail — the
        /// only thing that joins their visits.
        public var weeklyCookiePercent = 0
        /// Percent of persons who also visit once from the site's in-store
        /// kiosk: one browser for everyone (the same cookie, `_ga` and
        /// `_ym_uid`), a session each, a form with their phone if they have one.
        public var kioskPercent = 0
        /// Percent of forms where a salesperson's e-mail is typed instead of
        /// the visitor's (beside the visitor's phone).
        public var salespersonEmailPercent = 0
        /// Percent of callers who read the page longer than the hold (16 to
        /// 46 minutes) before calling the number on it.
        public var readingPercent = 0
        /// Whether the tracker renews an open page's lease (a `lease_renewal`
        /// every third of the hold while the visitor reads), as it does since
        /// renewals exist. Off, a reader's number lapses and is leased to the
        /// next visitor while still on the reader's screen: the world of the
        /// tracker before renewals, to measure what they fix.
        public var renewals = true
        public init() {}
    }

    public let parameters: Parameters
    /// Every event, in time order.
    public let events: [Event]

    /// The salesperson's e-mail some forms carry with `salespersonEmailPercent`.
    public static func salespersonEmail(site: UInt32) -> String { "manager@shop\(site).example.ru" }

    /// The office phone every site's forms sometimes carry (noise).
    public static func officePhone(site: UInt32) -> String { "+7 495 000-00-\(String(format: "%02d", Int(site) % 100))" }

    /// Dynamic numbers per site: few enough that numbers are reused many
    /// times a day, and now and then all held (the fallback is shown).
    public static let poolSize = 8
    /// How long a number stays a session's after its last activity (the
    /// server's default hold).
    public static let holdMs: Int64 = 15 * 60 * 1000
    /// How often an open page renews its lease: a third of the hold, as the
    /// server tells the tracker (`renew_after_ms`).
    public static let renewalIntervalMs: Int64 = holdMs / 3

    /// A site's call-tracking pool, as the operator declares it (`pool_set`):
    /// its dynamic numbers, the fallback and the office number.
    public static func pool(site: UInt32) -> Stitch_V1_NumberPool {
        let prefix = "+7 495 1\(String(format: "%02d", Int(site) % 100))-"
        return .with {
            $0.dynamicNumbers = (0..<poolSize).map { prefix + String(format: "00-%02d", $0) }
            $0.holdSeconds = UInt32(holdMs / 1000)
            $0.fallbackNumber = prefix + "99-99"
            $0.officeNumbers = [officePhone(site: site)]
        }
    }

    public init(_ parameters: Parameters) {
        self.parameters = parameters
        var events: [Event] = []
        for site in 1...UInt32(max(1, parameters.sites)) {
            var random = SplitMix64(seed: parameters.seed &* 1_000_003 &+ UInt64(site))
            var generator = SiteGenerator(site: site, parameters: parameters)
            generator.generate(into: &events, random: &random)
        }
        events.sort { ($0.beacon.timeMs, $0.beacon.eventID) < ($1.beacon.timeMs, $1.beacon.eventID) }
        Self.assignTrackingNumbers(&events)
        self.events = events
    }

    /// Plays the sites' number pools over the events in time order, as a
    /// tracker asking `lease` would: a session shown a number keeps it while
    /// it is active (+ hold); otherwise it gets the least recently released
    /// free number, else the fallback. Calls then dial their session's number.
    static func assignTrackingNumbers(_ events: inout [Event]) {
        struct Pool {
            var numbers: [String]
            var heldUntil: [Int64]
            var holder: [String?]
            let fallback: String
        }
        var pools: [UInt32: Pool] = [:]
        var numberOfSession: [String: (site: UInt32, index: Int?)] = [:]
        for position in events.indices {
            let beacon = events[position].beacon
            let site = beacon.site
            let time = beacon.timeMs
            if pools[site] == nil {
                let wire = pool(site: site)
                pools[site] = Pool(
                    numbers: wire.dynamicNumbers, heldUntil: Array(repeating: 0, count: wire.dynamicNumbers.count),
                    holder: Array(repeating: nil, count: wire.dynamicNumbers.count), fallback: wire.fallbackNumber)
            }
            // Any event of a session keeps the number it holds.
            if let session = beacon.identifiers.first(where: { $0.kind == .session })?.value,
                let held = numberOfSession[session], let index = held.index, pools[site]!.holder[index] == session
            {
                pools[site]!.heldUntil[index] = max(pools[site]!.heldUntil[index], time + holdMs)
            }
            switch beacon.body {
            case .numberShown:
                let session = events[position].session!
                var index: Int? = numberOfSession[session]?.index
                if index == nil || pools[site]!.holder[index!] != session || pools[site]!.heldUntil[index!] < time {
                    index = pools[site]!.heldUntil.indices
                        .filter { pools[site]!.heldUntil[$0] < time }
                        .min { pools[site]!.heldUntil[$0] < pools[site]!.heldUntil[$1] }
                }
                if let index {
                    pools[site]!.holder[index] = session
                    pools[site]!.heldUntil[index] = max(pools[site]!.heldUntil[index], time + holdMs)
                }
                numberOfSession[session] = (site, index)
                events[position].beacon.numberShown.trackingNumber =
                    index.map { pools[site]!.numbers[$0] } ?? pools[site]!.fallback
            case .leaseRenewal:
                // The page renews the number it shows, if a dynamic one.
                if let held = numberOfSession[events[position].session!], let index = held.index {
                    events[position].beacon.leaseRenewal.trackingNumber = pools[site]!.numbers[index]
                }
            case .call:
                let held = numberOfSession[events[position].session!]
                let number = held?.index.map { pools[site]!.numbers[$0] } ?? pools[site]!.fallback
                events[position].beacon.call.trackingNumber = number
                // A hidden caller's call is found through its session, if the
                // number it dialled was the session's own.
                if events[position].probe == nil, held?.index != nil {
                    events[position].probe = .with {
                        $0.kind = .session
                        $0.value = events[position].session!
                    }
                }
            default:
                break
            }
        }
    }
}

/// Generates one site's persons and their journeys.
struct SiteGenerator {
    let site: UInt32
    let parameters: World.Parameters
    var nextEventID: UInt64 = 1
    var nextSession = 1

    init(site: UInt32, parameters: World.Parameters) {
        self.site = site
        self.parameters = parameters
    }

    struct Device {
        var cookie: String
        var gaClientID: String
        var ymClientID: String
        /// The account the person signs in with on this device's next visit.
        var signIn: String?
    }

    static let sources: [(weight: Int, source: String, medium: String, referrer: String)] = [
        (30, "yandex", "cpc", ""), (20, "google", "cpc", ""), (10, "vk", "social", ""),
        (5, "email", "newsletter", ""), (15, "", "", "https://yandex.ru/search/"), (20, "", "", ""),
    ]
    static let domains = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru"]

    mutating func generate(into events: inout [World.Event], random: inout SplitMix64) {
        let dayMs: Int64 = 86_400_000
        for person in 0..<parameters.personsPerSite {
            let truth = UInt64(site) << 32 | UInt64(person)
            if parameters.weeklyCookiePercent > 0 && random.chance(parameters.weeklyCookiePercent) {
                weeklyCookieCustomer(truth: truth, into: &events, random: &random)
                continue
            }
            var devices = (0..<(1 + (random.chance(40) ? 1 : 0) + (random.chance(10) ? 1 : 0))).map { _ in
                Device(
                    cookie: Self.token(&random, 16),
                    gaClientID: "GA1.2.\(1_000_000_000 + random.next(below: 999_999_999)).\(1_700_000_000 + random.next(below: 60_000_000))",
                    ymClientID: "\(1_700_000_000 + random.next(below: 60_000_000))\(100_000_000 + random.next(below: 899_999_999))")
            }
            if devices.count > 1 {
                for index in devices.indices where !random.chance(parameters.anonymousDevicePercent) {
                    devices[index].signIn = "acct-\(site)-\(person)"
                }
            }
            let phoneDigits = random.chance(70) ? "9\(100_000_000 + random.next(below: 899_999_999))" : nil
            let email = random.chance(50)
                ? "user\(site)x\(person).\(Self.token(&random, 4).lowercased())@\(Self.domains[random.next(below: Self.domains.count)])" : nil
            var time = parameters.startMs + Int64(random.next(below: parameters.days)) * dayMs + Int64(random.next(below: 86_400)) * 1000
            var converted = false
            var revealed = Revealed()
            for _ in 0..<(1 + random.next(below: 6)) {
                let deviceIndex = random.next(below: devices.count)
                let device = devices[deviceIndex]
                devices[deviceIndex].signIn = nil  // signed in from now on: the cookie carries it
                let typedPhone = phoneDigits.map { Self.format(phone: $0, &random) }
                converted = visit(device: device, truth: truth, phone: typedPhone, callerPhone: phoneDigits.map { "+7\($0)" },
                                  email: email, revealed: &revealed, time: &time, into: &events, random: &random) || converted
                time += Int64(1 + random.next(below: 5)) * dayMs + Int64(random.next(below: 40_000)) * 1000
                if random.chance(parameters.botPercent) { bot(time: time + 1000, into: &events, random: &random) }
            }
            if parameters.kioskPercent > 0 && random.chance(parameters.kioskPercent) {
                let kiosk = Device(cookie: "kiosk\(site)Q7xL2mP9aZ", gaClientID: "GA1.2.1000000\(site).1700000000", ymClientID: "17000000000\(site)000")
                var kioskTime = parameters.startMs + Int64(random.next(below: parameters.days)) * dayMs + Int64(random.next(below: 86_400)) * 1000
                converted = visit(device: kiosk, truth: truth, phone: phoneDigits.map { Self.format(phone: $0, &random) },
                                  callerPhone: phoneDigits.map { "+7\($0)" }, email: nil, revealed: &revealed, time: &kioskTime,
                                  into: &events, random: &random, formPercent: phoneDigits == nil ? 0 : 100) || converted
            }
            // The CRM knows the contacts the person left with the site (a
            // form, a call, a chat): the lead the deal was made from.
            if converted && (revealed.phone || revealed.email) && random.chance(60) {
                deal(person: person, truth: truth, phone: revealed.phone ? phoneDigits.map { "8\($0)" } : nil,
                     email: revealed.email ? email : nil, time: time, into: &events, random: &random)
            }
        }
    }

    /// A repeat customer whose browser resets its cookies every week: a new
    /// device identity on every visit, a form (phone and/or e-mail) on 80%.
    mutating func weeklyCookieCustomer(truth: UInt64, into events: inout [World.Event], random: inout SplitMix64) {
        let dayMs: Int64 = 86_400_000
        let phoneDigits = random.chance(70) ? "9\(100_000_000 + random.next(below: 899_999_999))" : nil
        let email = phoneDigits == nil || random.chance(40)
            ? "repeat\(site)x\(truth & 0xFFFF_FFFF).\(Self.token(&random, 4).lowercased())@\(Self.domains[random.next(below: Self.domains.count)])" : nil
        var time = parameters.startMs + Int64(random.next(below: parameters.days)) * dayMs + Int64(random.next(below: 86_400)) * 1000
        var revealed = Revealed()
        for _ in 0..<(6 + random.next(below: 5)) {
            let device = Device(
                cookie: Self.token(&random, 16),
                gaClientID: "GA1.2.\(1_000_000_000 + random.next(below: 999_999_999)).\(1_700_000_000 + random.next(below: 60_000_000))",
                ymClientID: "\(1_700_000_000 + random.next(below: 60_000_000))\(100_000_000 + random.next(below: 899_999_999))")
            _ = visit(device: device, truth: truth, phone: phoneDigits.map { Self.format(phone: $0, &random) },
                      callerPhone: phoneDigits.map { "+7\($0)" }, email: email, revealed: &revealed, time: &time,
                      into: &events, random: &random, formPercent: 80)
            time += Int64(3 + random.next(below: 8)) * dayMs + Int64(random.next(below: 40_000)) * 1000
        }
    }

    /// The contacts a person has left with the site so far.
    struct Revealed {
        var phone = false
        var email = false
    }

    /// One visit; returns whether it converted (form, call or chat).
    mutating func visit(
        device: Device, truth: UInt64, phone: String?, callerPhone: String?, email: String?,
        revealed: inout Revealed, time: inout Int64, into events: inout [World.Event], random: inout SplitMix64,
        formPercent: Int = 6
    ) -> Bool {
        let session = "ss\(site)v\(nextSession)\(Self.token(&random, 6))"
        nextSession += 1
        let sessionID = identifier(.session, session)
        let cookie = identifier(.cookie, device.cookie)
        var pick = random.next(below: 100)
        let source = Self.sources.first { pick -= $0.weight; return pick < 0 } ?? Self.sources[5]
        let landing = "https://shop\(site).example.ru/catalog/\(random.next(below: 300))"
        append(&events, truth: truth, probe: sessionID, time: time,
               identifiers: [cookie, sessionID, identifier(.gaClientID, device.gaClientID), identifier(.ymClientID, device.ymClientID)]
                   + (device.signIn.map { [identifier(.userID, $0)] } ?? []), body: .visit(.with {
                $0.utmSource = source.source
                $0.utmMedium = source.medium
                $0.utmCampaign = source.source.isEmpty ? "" : "campaign-\(random.next(below: 12))"
                $0.referrer = source.referrer
                $0.landingURL = source.source.isEmpty ? landing : landing + "?utm_source=\(source.source)"
                if source.source == "yandex" { $0.yclid = "\(random.next(below: 1_000_000_000))" }
                if source.source == "google" { $0.gclid = Self.token(&random, 20) }
            }))
        var converted = false
        var trackingNumber: String?
        for hit in 0..<(1 + random.next(below: 12)) {
            time += Int64(10 + random.next(below: 110)) * 1000
            // Junk the tracker sometimes sends instead of its cookie.
            let hitCookie = random.chance(1) ? identifier(.cookie, ["undefined", "null", "[object Object]"][random.next(below: 3)]) : cookie
            append(&events, truth: truth, probe: sessionID, time: time, identifiers: [hitCookie, sessionID], body: .hit(.with { $0.url = landing + "/p\(hit)" }))
            if trackingNumber == nil && random.chance(8) {
                trackingNumber = "assigned in time order by World.assignTrackingNumbers"
                append(&events, truth: truth, probe: sessionID, time: time + 1, identifiers: [sessionID],
                       body: .numberShown(.with { $0.trackingNumber = trackingNumber! }), session: session)
            }
        }
        if random.chance(formPercent) {
            time += 30_000
            // The shared office phone, typed instead of the visitor's own.
            let typed = random.chance(3) ? Self.officePhoneTyped(site) : phone
            let salesperson = parameters.salespersonEmailPercent > 0 && random.chance(parameters.salespersonEmailPercent)
            append(&events, truth: truth, probe: sessionID, time: time, identifiers: [cookie, sessionID], body: .form(.with {
                    $0.formID = "callback"
                    $0.pageURL = landing
                    $0.phone = typed ?? ""
                    $0.email = salesperson ? World.salespersonEmail(site: site) : email.map { random.chance(30) ? $0.uppercased() : $0 } ?? ""
                }))
            revealed.phone = revealed.phone || (typed != nil && typed == phone)
            revealed.email = revealed.email || (email != nil && !salesperson)
            converted = true
        }
        if let trackingNumber, random.chance(40) {
            time += 60_000
            if parameters.readingPercent > 0 && random.chance(parameters.readingPercent) {
                // Reads the page past the hold, then calls the number on it;
                // the open page renews its lease every third of the hold.
                let reading = World.holdMs + Int64(60 + random.next(below: 1800)) * 1000
                var renewal = time + World.renewalIntervalMs
                while parameters.renewals && renewal < time + reading {
                    append(&events, truth: truth, probe: nil, time: renewal, identifiers: [sessionID],
                           body: .leaseRenewal(Stitch_V1_LeaseRenewal()), session: session)
                    renewal += World.renewalIntervalMs
                }
                time += reading
            }
            // A call carries no cookie: only the caller's number, if shown.
            let hidden = callerPhone == nil || random.chance(5)
            revealed.phone = revealed.phone || !hidden
            let callID = "c\(site)-\(nextEventID)"
            append(&events, truth: truth, probe: hidden ? nil : identifier(.phone, callerPhone!), time: time, identifiers: [], body: .call(.with {
                    $0.callID = callID
                    $0.callerPhone = hidden ? "" : callerPhone!
                    $0.trackingNumber = trackingNumber
                    $0.durationS = UInt32(random.next(below: 600))
                    $0.answered = random.chance(85)
                }), session: session)
            converted = true
        }
        if random.chance(3) {
            time += 20_000
            append(&events, truth: truth, probe: sessionID, time: time, identifiers: [cookie, sessionID], body: .chat(.with {
                    $0.provider = "jivo"
                    $0.chatID = "v-\(Self.token(&random, 8))"
                    if random.chance(30), let email {
                        $0.email = email
                        revealed.email = true
                    }
                }))
            converted = true
        }
        return converted
    }

    /// A bot: a fresh cookie and session, many hits, nothing else.
    mutating func bot(time: Int64, into events: inout [World.Event], random: inout SplitMix64) {
        let truth = UInt64(site) << 32 | UInt64(0x8000_0000) | UInt64(nextSession)
        let session = identifier(.session, "ss\(site)b\(nextSession)\(Self.token(&random, 6))")
        nextSession += 1
        let cookie = identifier(.cookie, Self.token(&random, 16))
        for index in 0..<(20 + random.next(below: 30)) {
            append(&events, truth: truth, probe: session, time: time + Int64(index) * 500, identifiers: [cookie, session], body: .hit(.with { $0.url = "https://shop\(site).example.ru/sitemap/\(index)" }))
        }
    }

    mutating func deal(
        person: Int, truth: UInt64, phone: String?, email: String?, time: Int64,
        into events: inout [World.Event], random: inout SplitMix64
    ) {
        let contact = "\(site)0\(person)"
        var identifiers: [Stitch_V1_Identifier] = []
        if let phone { identifiers.append(identifier(.phone, phone)) }
        if let email, phone == nil || random.chance(50) { identifiers.append(identifier(.email, email)) }
        let roll = random.next(below: 100)
        append(&events, truth: truth, probe: identifier(.crmContact, "amocrm:" + contact), time: time + 86_400_000,
               identifiers: identifiers, body: .deal(.with {
                $0.crm = "amocrm"
                $0.dealID = "D\(site)-\(person)"
                $0.contactID = contact
                $0.status = roll < 40 ? .won : roll < 80 ? .open : .deleted
                $0.revenueMinor = roll < 40 ? Int64(100_000 + random.next(below: 10_000_000)) : 0
                $0.currency = "RUB"
            }))
    }

    // MARK: Helpers

    mutating func append(
        _ events: inout [World.Event], truth: UInt64, probe: Stitch_V1_Identifier?, time: Int64,
        identifiers: [Stitch_V1_Identifier], body: Stitch_V1_Beacon.OneOf_Body, session: String? = nil
    ) {
        let beacon = Stitch_V1_Beacon.with {
            $0.site = site
            $0.timeMs = time
            $0.eventID = nextEventID
            $0.identifiers = identifiers
            $0.body = body
        }
        nextEventID += 1
        events.append(World.Event(beacon: beacon, truth: truth, probe: probe, session: session))
    }

    func identifier(_ kind: Stitch_V1_IdentifierKind, _ value: String) -> Stitch_V1_Identifier {
        .with {
            $0.kind = kind
            $0.value = value
        }
    }

    static func officePhoneTyped(_ site: UInt32) -> String { World.officePhone(site: site) }

    /// A phone as people type it: 8 (916) 123-45-67, +7 916 1234567, 9161234567, …
    static func format(phone digits: String, _ random: inout SplitMix64) -> String {
        let d = Array(digits)
        func part(_ range: Range<Int>) -> String { String(d[range]) }
        switch random.next(below: 4) {
        case 0: return "8 (\(part(0..<3))) \(part(3..<6))-\(part(6..<8))-\(part(8..<10))"
        case 1: return "+7 \(part(0..<3)) \(part(3..<10))"
        case 2: return digits
        default: return "+7(\(part(0..<3)))\(part(3..<6))\(part(6..<10))"
        }
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    static func token(_ random: inout SplitMix64, _ length: Int) -> String {
        String((0..<length).map { _ in alphabet[random.next(below: alphabet.count)] })
    }
}
