import Foundation
import NIOCore
import StitchClient
import StitchLoad
import StitchServer
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

/// `stitch load --verify`: asks the server where it put every acked event
/// (lookups of each event's identifiers, then those persons' histories) and
/// hands the answers to `WorldEvaluation`.
struct WorldVerification {
    let plan: WorldPlan
    let acks: [BatchKey: Set<Int>]
    /// Cluster mode: how far the acks reach in each partition's log.
    let positions: [UInt32: UInt64]
    let client: QueryClient

    func run() async throws -> WorldEvaluation.Outcome {
        try await awaitApplied()
        var acked: [Int] = []
        for (key, rejected) in acks {
            for (position, index) in plan.batches[key.connection][key.offset].enumerated() where !rejected.contains(position) {
                acked.append(index)
            }
        }
        acked.sort()
        let evaluation = WorldEvaluation(world: plan.world, acked: acked)
        let owners = try await lookUp(probes: evaluation.identifiersToLookUp)
        let histories = try await histories(of: evaluation.personsToRead(owners: owners))
        return evaluation.evaluate(owners: owners, histories: histories)
    }

    /// Cluster mode: read-your-writes before verifying. One request per
    /// partition carries the acks' position as `min_position`; the node
    /// answers once it has applied that far (UNAVAILABLE after its wait, so
    /// ask again, up to a minute). A single node acks nothing unapplied.
    private func awaitApplied() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        for (partition, sequence) in positions.sorted(by: { $0.key < $1.key }) {
            let position = Stitch_V1_LogPosition.with {
                $0.partition = partition
                $0.sequence = sequence
            }
            while true {
                let answer = try await client.response(.stats(.init()), minPosition: position).get()
                // Any answer but UNAVAILABLE means the wait is over (a token
                // that may not read stats is refused after it).
                guard answer.error.code == .unavailable, !answer.error.message.contains("does not hold") else { break }
                guard ContinuousClock.now < deadline else {
                    throw ClientError.protocolViolation("the node did not apply partition \(partition) through \(sequence) within a minute: \(answer.error.message)")
                }
            }
        }
    }

    typealias ProbeKey = WorldEvaluation.IdentifierKey
    typealias PersonKey = WorldEvaluation.PersonKey

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
            let person = entry.0
            var future = entry.1
            while true {
                guard case .history(let page) = try await future.get().kind else { return }
                result[person, default: []].formUnion(page.events.map(\.beacon.eventID))
                if page.nextCursor.isEmpty { return }
                future = request(person, cursor: page.nextCursor)
            }
        }
        for person in persons {
            pending.append((person, request(person, cursor: Data())))
            if pending.count >= 64 { try await settle(pending.removeFirst()) }
        }
        for entry in pending { try await settle(entry) }
        return result
    }
}

extension WorldEvaluation.Outcome {
    func print(stats: Stitch_V1_StatsResponse?) {
        func fixed(_ value: Double) -> String { String(format: "%.5f", value) }
        Swift.print("")
        Swift.print("verify    \(acked) acked events of the world")
        Swift.print("stitching pairwise precision \(fixed(score.precision)), recall \(fixed(score.recall)) (\(score.correctPairs) correct of \(score.predictedPairs) predicted and \(score.truePairs) true pairs)")
        Swift.print("linkable  precision \(fixed(linkableScore.precision)), recall \(fixed(linkableScore.recall)) against what the beacons can link at all (\(linkableScore.truePersons) linkable persons; the gap to 1 is the guards')")
        Swift.print("persons   \(score.truePersons) true, \(score.predictedPersons) on the server; over-merged true persons \(score.overMergedPersons), under-merged \(score.underMergedPersons)")
        if !overMergedExamples.isEmpty {
            Swift.print("          over-merged, e.g. \(overMergedExamples.joined(separator: "; "))")
        }
        if score.underMergedPersons > 0 {
            Swift.print("          pieces split off true persons: \(splitOffCalls) only calls (to the fallback number, from a phone never typed on the site), \(splitOffDeals) deals (the CRM's phone or e-mail was never typed on the site), \(splitOffDevices) visits of a device the person never identified on (nothing links it)")
        }
        let conflicts = stats?.series(.conflicts) ?? []
        if !conflicts.isEmpty {
            Swift.print("guards    links refused: " + conflicts.map { "\($0.labels) \($0.value)" }.joined(separator: ", "))
        }
        Swift.print("unlinked  \(unlinked) events carry no identifier (hidden callers): stored, in no person's history, not scored")
        if missing == 0 {
            Swift.print("history   every acked beacon is in its person's history (\(personsRead) persons read)")
        } else {
            Swift.print("MISSING   \(missing) acked beacons are in no history of their identifiers' persons, e.g. \(missingExamples.joined(separator: ", "))")
        }
    }
}
