import Foundation
import NIOCore
import StitchClient
import StitchLoad
import StitchWire

/// How a world's events are cut into batches and spread over connections.
struct WorldPlan: Sendable {
    let world: World
    /// `batches[connection][offset]`: the event indexes of that batch, which
    /// is sent with sequence `offset + 1` on that connection.
    let batches: [[Range<Int>]]

    init(world: World, batch: Int, connections: Int) {
        self.world = world
        var batches = Array(repeating: [Range<Int>](), count: connections)
        var start = 0
        var number = 0
        while start < world.events.count {
            let end = min(start + batch, world.events.count)
            batches[number % connections].append(start..<end)
            number += 1
            start = end
        }
        self.batches = batches
    }

    func frames(connection: Int, compressed: Bool) throws -> [ByteBuffer] {
        let encoder = FrameEncoder()
        return try batches[connection].enumerated().map { offset, range in
            let batch = Stitch_V1_BeaconBatch.with { $0.beacons = world.events[range].map(\.beacon) }
            var buffer = ByteBufferAllocator().buffer(capacity: 64 * range.count)
            try encoder.encode(batch, type: .batch, sequence: UInt64(offset + 1), compressed: compressed, into: &buffer)
            return buffer
        }
    }
}

/// `stitch load --verify`: asks the server whose every acked event is, scores
/// that against the world's truth, and checks each acked beacon is in its
/// person's history.
struct WorldVerification {
    let plan: WorldPlan
    let acks: [BatchKey: Set<Int>]
    let client: QueryClient

    struct Outcome {
        var score: StitchingScore
        var acked = 0
        /// Events with no identifier at all (hidden callers): stored, in nobody's history.
        var unlinked = 0
        var missing = 0
        var missingExamples: [String] = []
        var underMergedWithCall = 0
        var underMergedWithDeal = 0
        var persons = 0

        func print(stats: Stitch_V1_StatsResponse?) {
            func fixed(_ value: Double) -> String { String(format: "%.5f", value) }
            Swift.print("")
            Swift.print("verify    \(acked) acked events of the world")
            Swift.print("stitching pairwise precision \(fixed(score.precision)), recall \(fixed(score.recall)) (\(score.correctPairs) correct of \(score.predictedPairs) predicted and \(score.truePairs) true pairs)")
            Swift.print("persons   \(score.truePersons) true, \(score.predictedPersons) on the server; over-merged true persons \(score.overMergedPersons), under-merged \(score.underMergedPersons)")
            if score.underMergedPersons > 0 {
                Swift.print("          of the under-merged, \(underMergedWithCall) have a call and \(underMergedWithDeal) a deal: a call carries only the caller's phone and a deal only the CRM's phone or e-mail, which link nothing the person never typed on the site (call tracking will match calls to sessions)")
            }
            let conflicts = (stats?.counters ?? []).filter { $0.name.hasPrefix("stitch_conflicts_total") }
            if !conflicts.isEmpty {
                Swift.print("guards    " + conflicts.map { "\($0.name.replacingOccurrences(of: "stitch_conflicts_total", with: "")) \($0.value)" }.joined(separator: ", ") + " (links refused: the shared office phone and other blobs stop at the caps)")
            }
            Swift.print("unlinked  \(unlinked) events carry no identifier (hidden callers): stored, in no person's history")
            if missing == 0 {
                Swift.print("history   every acked beacon is in its person's history (\(persons) persons read)")
            } else {
                Swift.print("MISSING   \(missing) acked beacons are not in their person's history, e.g. \(missingExamples.joined(separator: ", "))")
            }
        }
    }

    struct ProbeKey: Hashable {
        var site: UInt32
        var kind: Int
        var value: String
    }

    func run() async throws -> Outcome {
        let events = plan.world.events
        var ackedIndexes: [Int] = []
        for (key, rejected) in acks {
            for (position, index) in plan.batches[key.connection][key.offset].enumerated() where !rejected.contains(position) {
                ackedIndexes.append(index)
            }
        }
        ackedIndexes.sort()
        // Where did the server put each event? In the person of one of its
        // identifiers (when a guard refused a link they are in several):
        // look them all up, read those persons' histories, and find it.
        let candidates = ackedIndexes.map { candidateKeys(events[$0]) }
        let owners = try await lookUp(probes: Set(candidates.joined()))
        let personsOfEvent = zip(ackedIndexes, candidates).map { index, keys in
            var persons: [PersonKey] = []
            for key in keys {
                if let owner = owners[key], !persons.contains(where: { $0.person == owner }) {
                    persons.append(PersonKey(site: events[index].beacon.site, person: owner))
                }
            }
            return persons
        }
        let histories = try await histories(of: Array(Set(personsOfEvent.joined())))
        var outcome = Outcome(score: StitchingScore(), acked: ackedIndexes.count, persons: histories.count)
        var predicted: [UInt64?] = []
        for (position, index) in ackedIndexes.enumerated() {
            let event = events[index]
            if candidates[position].isEmpty {
                predicted.append(nil)
                outcome.unlinked += 1
                continue
            }
            let home = personsOfEvent[position].first { histories[$0]?.contains(event.beacon.eventID) ?? false }
            if home == nil {
                outcome.missing += 1
                if outcome.missingExamples.count < 5 { outcome.missingExamples.append("site \(event.beacon.site) event \(event.beacon.eventID)") }
            }
            predicted.append(home?.person)
        }
        outcome.score = StitchingScore.compute(truth: ackedIndexes.map { events[$0].truth }, predicted: predicted)
        countUnderMerged(ackedIndexes, predicted, into: &outcome)
        return outcome
    }

    /// The identifiers to ask about: the generator's probe first, then every
    /// identifier the beacon names explicitly.
    private func candidateKeys(_ event: World.Event) -> [ProbeKey] {
        var keys: [ProbeKey] = []
        for identifier in (event.probe.map { [$0] } ?? []) + event.beacon.identifiers {
            let key = ProbeKey(site: event.beacon.site, kind: identifier.kind.rawValue, value: identifier.value)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    struct PersonKey: Hashable {
        var site: UInt32
        var person: UInt64
    }

    /// Batch lookups, 1,000 identifiers per request, 16 requests in flight.
    private func lookUp(probes: Set<ProbeKey>) async throws -> [ProbeKey: UInt64] {
        var owners: [ProbeKey: UInt64] = [:]
        var requests: [([ProbeKey], EventLoopFuture<Stitch_V1_Response>)] = []
        func settle(_ request: ([ProbeKey], EventLoopFuture<Stitch_V1_Response>)) async throws {
            guard case .batchLookup(let answer) = try await request.1.get().kind else {
                throw ClientError.protocolViolation("batch lookup refused")
            }
            for (key, result) in zip(request.0, answer.results) where result.found { owners[key] = result.person.personID }
        }
        let bySite = Dictionary(grouping: probes, by: \.site)
        for (site, keys) in bySite {
            for start in stride(from: 0, to: keys.count, by: 1000) {
                let chunk = Array(keys[start..<min(start + 1000, keys.count)])
                requests.append((chunk, client.response(.batchLookup(.with {
                    $0.site = site
                    $0.persons = chunk.map { key in
                        .with {
                            $0.identifier = .with {
                                $0.kind = Stitch_V1_IdentifierKind(rawValue: key.kind) ?? .unspecified
                                $0.value = key.value
                            }
                        }
                    }
                }))))
                if requests.count >= 16 { try await settle(requests.removeFirst()) }
            }
        }
        for request in requests { try await settle(request) }
        return owners
    }

    /// Every event id in each person's history, page by page.
    private func histories(of persons: [PersonKey]) async throws -> [PersonKey: Set<UInt64>] {
        var result: [PersonKey: Set<UInt64>] = [:]
        var pending: [(PersonKey, EventLoopFuture<Stitch_V1_Response>)] = []
        func request(_ person: PersonKey, cursor: Data) -> EventLoopFuture<Stitch_V1_Response> {
            client.response(.history(.with {
                $0.site = person.site
                $0.person.personID = person.person
                $0.limit = 1000
                $0.cursor = cursor
            }))
        }
        func settle(_ entry: (PersonKey, EventLoopFuture<Stitch_V1_Response>)) async throws {
            var (person, future) = entry
            while true {
                guard case .history(let page) = try await future.get().kind else { return }
                result[person, default: []].formUnion(page.events.map(\.beacon.eventID))
                if page.nextCursor.isEmpty { return }
                future = request(person, cursor: page.nextCursor)
                person = entry.0
            }
        }
        for person in persons {
            pending.append((person, request(person, cursor: Data())))
            if pending.count >= 64 { try await settle(pending.removeFirst()) }
        }
        for entry in pending { try await settle(entry) }
        return result
    }

    private func countUnderMerged(_ indexes: [Int], _ predicted: [UInt64?], into outcome: inout Outcome) {
        var clusters: [UInt64: Set<UInt64?>] = [:]
        var hasCall: Set<UInt64> = [], hasDeal: Set<UInt64> = []
        for (position, index) in indexes.enumerated() {
            let event = plan.world.events[index]
            clusters[event.truth, default: []].insert(predicted[position])
            if case .call = event.beacon.body { hasCall.insert(event.truth) }
            if case .deal = event.beacon.body { hasDeal.insert(event.truth) }
        }
        for (truth, predictedSet) in clusters where predictedSet.count > 1 {
            if hasCall.contains(truth) { outcome.underMergedWithCall += 1 }
            if hasDeal.contains(truth) { outcome.underMergedWithDeal += 1 }
        }
    }
}
