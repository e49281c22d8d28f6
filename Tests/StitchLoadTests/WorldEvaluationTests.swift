import StitchLoad
import StitchWire
import Testing

/// `stitch load --verify`'s judgement, fed a simulated server: a perfect one
/// (persons = truth), one that lost an acked beacon, one that split a person.
@Suite("World evaluation against simulated servers")
struct WorldEvaluationTests {
    typealias Key = WorldEvaluation.IdentifierKey
    typealias Person = WorldEvaluation.PersonKey

    /// A server that stitched exactly the truth: every identifier is owned
    /// by its true person, every event is in that person's history.
    static func perfectServer(_ evaluation: WorldEvaluation) -> (owners: [Key: UInt64], histories: [Person: Set<UInt64>]) {
        var owners: [Key: UInt64] = [:]
        var histories: [Person: Set<UInt64>] = [:]
        for index in evaluation.acked {
            let event = evaluation.world.events[index]
            let identifiers = (event.probe.map { [$0] } ?? []) + event.beacon.identifiers
            for identifier in identifiers {
                owners[Key(site: event.beacon.site, kind: identifier.kind.rawValue, value: identifier.value)] = event.truth
            }
            if !identifiers.isEmpty {
                histories[Person(site: event.beacon.site, person: event.truth), default: []].insert(event.beacon.eventID)
            }
        }
        return (owners, histories)
    }

    static let evaluation: WorldEvaluation = {
        var parameters = World.Parameters()
        parameters.sites = 1
        parameters.personsPerSite = 200
        parameters.botPercent = 0
        let world = World(parameters)
        // Junk cookie values would make two true persons share an "identifier"
        // in this simulation; the real server refuses them.
        let acked = world.events.indices.filter { index in
            !world.events[index].beacon.identifiers.contains { ["undefined", "null", "[object Object]"].contains($0.value) }
        }
        return WorldEvaluation(world: world, acked: Array(acked))
    }()

    @Test("a server that stitched the truth scores 1 and 1 with nothing missing")
    func perfect() {
        let (owners, histories) = Self.perfectServer(Self.evaluation)
        let outcome = Self.evaluation.evaluate(owners: owners, histories: histories)
        #expect(outcome.missing == 0)
        #expect(outcome.score.precision == 1 && outcome.score.recall == 1)
        let world = Self.evaluation.world
        let identifierless = Self.evaluation.acked.count { world.events[$0].probe == nil && world.events[$0].beacon.identifiers.isEmpty }
        #expect(outcome.unlinked == identifierless, "only hidden callers who dialled the fallback are unlinkable")
    }

    @Test("a form that lives with its phone's person (a guard refused its session's link) is found, not missing")
    func formWithItsPhonesPerson() throws {
        var (owners, histories) = Self.perfectServer(Self.evaluation)
        let form = try #require(Self.evaluation.acked.map { Self.evaluation.world.events[$0] }.first {
            if case .form(let body) = $0.beacon.body { return !body.phone.isEmpty }
            return false
        })
        let site = form.beacon.site
        histories[Person(site: site, person: form.truth)]!.remove(form.beacon.eventID)
        let phonePerson: UInt64 = 1 << 40
        owners[Key(site: site, kind: Stitch_V1_IdentifierKind.phone.rawValue, value: form.beacon.form.phone)] = phonePerson
        histories[Person(site: site, person: phonePerson), default: []].insert(form.beacon.eventID)
        let outcome = Self.evaluation.evaluate(owners: owners, histories: histories)
        #expect(outcome.missing == 0)
    }

    @Test("a server that dropped one acked beacon is caught")
    func droppedBeacon() throws {
        var (owners, histories) = Self.perfectServer(Self.evaluation)
        let victim = try #require(Self.evaluation.acked.map { Self.evaluation.world.events[$0] }.first { !$0.beacon.identifiers.isEmpty })
        histories[Person(site: victim.beacon.site, person: victim.truth)]!.remove(victim.beacon.eventID)
        let outcome = Self.evaluation.evaluate(owners: owners, histories: histories)
        #expect(outcome.missing == 1)
        #expect(outcome.missingExamples == ["site \(victim.beacon.site) event \(victim.beacon.eventID)"])
        owners.removeAll()
        #expect(Self.evaluation.evaluate(owners: owners, histories: histories).missing > 1, "an unknown identifier means a lost beacon")
    }

    @Test("a server that split a person loses recall and names the person under-merged")
    func splitPerson() throws {
        var (owners, histories) = Self.perfectServer(Self.evaluation)
        // Move one session of a person with several visits to a new person.
        let events = Self.evaluation.acked.map { Self.evaluation.world.events[$0] }
        let sessions = Dictionary(grouping: events.filter { $0.probe?.kind == .session }, by: \.truth)
        let (truth, personEvents) = try #require(sessions.first { Set($0.value.map { $0.probe!.value }).count > 1 })
        let session = personEvents[0].probe!.value
        let moved = personEvents.filter { $0.probe!.value == session }
        let site = moved[0].beacon.site
        let newPerson: UInt64 = 999_999_999
        for event in moved {
            for identifier in [event.probe!] + event.beacon.identifiers where identifier.kind == .session {
                owners[Key(site: site, kind: identifier.kind.rawValue, value: identifier.value)] = newPerson
            }
            histories[Person(site: site, person: truth)]!.remove(event.beacon.eventID)
            histories[Person(site: site, person: newPerson), default: []].insert(event.beacon.eventID)
        }
        let outcome = Self.evaluation.evaluate(owners: owners, histories: histories)
        #expect(outcome.missing == 0)
        #expect(outcome.score.precision == 1)
        #expect(outcome.score.recall < 1)
        #expect(outcome.score.underMergedPersons == 1)
    }
}
