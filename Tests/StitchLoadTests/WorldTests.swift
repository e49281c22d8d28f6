import StitchLoad
import StitchTesting
import StitchWire
import Testing

@Suite("Synthetic world and scoring")
struct WorldTests {
    static var small: World.Parameters {
        var parameters = World.Parameters()
        parameters.sites = 2
        parameters.personsPerSite = 300
        return parameters
    }

    @Test("the world is deterministic for a seed and differs between seeds")
    func deterministic() throws {
        let a = World(Self.small), b = World(Self.small)
        #expect(a.events.count == b.events.count)
        #expect(try a.events.map { try $0.beacon.serializedBytes() as [UInt8] } == b.events.map { try $0.beacon.serializedBytes() as [UInt8] })
        #expect(a.events.map(\.truth) == b.events.map(\.truth))
        var other = Self.small
        other.seed = 2
        #expect(try World(other).events.map { try $0.beacon.serializedBytes() as [UInt8] } != a.events.map { try $0.beacon.serializedBytes() as [UInt8] })
    }

    @Test("the world holds every body type, the noise, valid beacons, unique event ids per site, time order")
    func shape() {
        let world = World(Self.small)
        let validator = BeaconValidator()
        #expect(world.events.allSatisfy { validator.problem(in: $0.beacon) == nil })
        var bodies: Set<String> = []
        for event in world.events {
            switch event.beacon.body {
            case .visit: bodies.insert("visit")
            case .hit: bodies.insert("hit")
            case .numberShown: bodies.insert("number_shown")
            case .form: bodies.insert("form")
            case .call: bodies.insert("call")
            case .chat: bodies.insert("chat")
            case .deal: bodies.insert("deal")
            case .leaseRenewal: bodies.insert("lease_renewal")
            case nil: break
            }
        }
        #expect(bodies == ["visit", "hit", "number_shown", "form", "call", "chat", "deal"])
        #expect(world.events.contains { $0.beacon.identifiers.contains { $0.value == "undefined" || $0.value == "null" || $0.value == "[object Object]" } })
        #expect(world.events.contains { $0.beacon.form.phone == World.officePhone(site: $0.beacon.site) })
        #expect(world.events.contains { $0.truth & 0x8000_0000 != 0 }, "bots")
        let ids = world.events.map { "\($0.beacon.site)/\($0.beacon.eventID)" }
        #expect(Set(ids).count == ids.count)
        #expect(zip(world.events, world.events.dropFirst()).allSatisfy { $0.beacon.timeMs <= $1.beacon.timeMs })
    }

    @Test("scoring: perfect, a split person, a wrong merge, an unlinked event")
    func scoring() {
        let truth: [UInt64] = [1, 1, 1, 2, 2, 3]
        let perfect = StitchingScore.compute(truth: truth, predicted: [10, 10, 10, 20, 20, 30])
        #expect(perfect.precision == 1 && perfect.recall == 1)
        #expect(perfect.overMergedPersons == 0 && perfect.underMergedPersons == 0)

        // Person 1 split in two: 1 of 3 true pairs of person 1 survives.
        let split = StitchingScore.compute(truth: truth, predicted: [10, 10, 11, 20, 20, 30])
        #expect(split.precision == 1)
        #expect(split.correctPairs == 2 && split.truePairs == 4)
        #expect(split.underMergedPersons == 1)

        // Persons 2 and 3 merged: 2 wrong pairs among 6 predicted.
        let merged = StitchingScore.compute(truth: truth, predicted: [10, 10, 10, 20, 20, 20])
        #expect(merged.recall == 1)
        #expect(merged.predictedPairs == 6 && merged.correctPairs == 4)
        #expect(merged.overMergedPersons == 2)

        // An event the server linked to nobody is a person of its own.
        let unlinked = StitchingScore.compute(truth: truth, predicted: [10, 10, nil, 20, 20, 30])
        #expect(unlinked.truePairs == 4 && unlinked.correctPairs == 2)
    }
}

@Suite("The world's call tracking")
struct WorldCallTrackingTests {
    @Test("no two sessions hold a dynamic number at once; calls dial their session's number; the fallback is shown when all are held")
    func numbersAreLeasedLikeATrackerWould() {
        var parameters = World.Parameters()
        parameters.sites = 1
        parameters.personsPerSite = 3000
        parameters.days = 3  // crowded days, so the pool runs out now and then
        let world = World(parameters)
        let pool = World.pool(site: 1)
        // number → (session, held until) of its current holder.
        var holders: [String: (session: String, until: Int64)] = [:]
        var numberOfSession: [String: String] = [:]
        var fallbacks = 0, calls = 0
        for event in world.events {
            let time = event.beacon.timeMs
            if let session = event.beacon.identifiers.first(where: { $0.kind == .session })?.value,
                let number = numberOfSession[session], holders[number]?.session == session
            {
                holders[number]!.until = max(holders[number]!.until, time + World.holdMs)
            }
            switch event.beacon.body {
            case .numberShown(let shown):
                let session = event.session!
                numberOfSession[session] = shown.trackingNumber
                if shown.trackingNumber == pool.fallbackNumber {
                    fallbacks += 1
                    #expect(pool.dynamicNumbers.allSatisfy { (holders[$0]?.until ?? 0) >= time }, "fallback only when all are held")
                    continue
                }
                #expect(pool.dynamicNumbers.contains(shown.trackingNumber))
                if let holder = holders[shown.trackingNumber], holder.session != session {
                    #expect(holder.until < time, "\(shown.trackingNumber) still held by \(holder.session)")
                }
                holders[shown.trackingNumber] = (session, max(holders[shown.trackingNumber]?.session == session ? holders[shown.trackingNumber]!.until : 0, time + World.holdMs))
            case .call(let call):
                calls += 1
                #expect(call.trackingNumber == numberOfSession[event.session!])
            default:
                break
            }
        }
        #expect(calls > 100)
        #expect(fallbacks > 0, "a pool of \(World.poolSize) runs out on crowded days")
    }
}

@Suite("World: readers and open pages")
struct WorldReadingTests {
    /// For each call to a dynamic number: whether the session last shown
    /// that number, in time order, is the caller's own.
    static func callsToTheirOwnNumber(_ world: World) -> (own: Int, taken: Int) {
        var lastShown: [String: String] = [:]
        var own = 0, taken = 0
        for event in world.events {
            switch event.beacon.body {
            case .numberShown(let shown) where shown.trackingNumber != World.pool(site: event.beacon.site).fallbackNumber:
                lastShown[shown.trackingNumber] = event.session
            case .call(let call) where lastShown[call.trackingNumber] != nil:
                if lastShown[call.trackingNumber] == event.session { own += 1 } else { taken += 1 }
            default: break
            }
        }
        return (own, taken)
    }

    @Test("readers' open pages renew their leases; without renewals their numbers go to other visitors while on screen")
    func renewalsKeepReadersNumbers() {
        // Busy enough that a lapsed number is soon leased again.
        var parameters = WorldTests.small
        parameters.days = 1
        parameters.personsPerSite = 1000
        parameters.readingPercent = 60
        let renewing = World(parameters)
        #expect(renewing.events.contains { if case .leaseRenewal = $0.beacon.body { true } else { false } })
        #expect(renewing.events.allSatisfy { BeaconValidator().problem(in: $0.beacon) == nil })
        let kept = Self.callsToTheirOwnNumber(renewing)
        #expect(kept.taken == 0 && kept.own > 0, "\(kept)")

        parameters.renewals = false
        let lapsing = World(parameters)
        #expect(!lapsing.events.contains { if case .leaseRenewal = $0.beacon.body { true } else { false } })
        let lost = Self.callsToTheirOwnNumber(lapsing)
        #expect(lost.taken > 0, "a small pool gives a lapsed reader's number to someone else: \(lost)")
        print("readers' calls to their own number: \(kept) with renewals, \(lost) without")
    }
}
