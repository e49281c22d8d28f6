/// How well a server's persons match the world's true persons, over events.
///
/// Pairwise: every pair of events the server put in one person is a
/// predicted pair; every pair of events of one true person is a true pair.
/// Precision = correct pairs / predicted pairs, recall = correct pairs /
/// true pairs. Counted from the contingency table (true × predicted), so it
/// is linear in the events, not quadratic.
public struct StitchingScore: Sendable, Equatable {
    public var events = 0
    public var truePairs: UInt64 = 0
    public var predictedPairs: UInt64 = 0
    public var correctPairs: UInt64 = 0
    public var truePersons = 0
    public var predictedPersons = 0
    /// True persons whose server person also holds events of someone else.
    public var overMergedPersons = 0
    /// True persons whose events the server split over several persons.
    public var underMergedPersons = 0

    public init() {}

    public var precision: Double { predictedPairs == 0 ? 1 : Double(correctPairs) / Double(predictedPairs) }
    public var recall: Double { truePairs == 0 ? 1 : Double(correctPairs) / Double(truePairs) }

    /// - Parameters:
    ///   - truth: the true person of each event.
    ///   - predicted: the server's person of each event, same order; nil
    ///     when the server linked the event to no person (it then counts as
    ///     a person of its own).
    public static func compute(truth: [UInt64], predicted: [UInt64?]) -> StitchingScore {
        precondition(truth.count == predicted.count)
        var score = StitchingScore()
        score.events = truth.count
        var cells: [Pair: UInt64] = [:]
        var byTruth: [UInt64: UInt64] = [:]
        var byPredicted: [UInt64: UInt64] = [:]
        for (index, trueID) in truth.enumerated() {
            // Unlinked events get ids no real person has: the high bit set.
            let predictedID = predicted[index] ?? (1 << 63 | UInt64(index))
            cells[Pair(truth: trueID, predicted: predictedID), default: 0] += 1
            byTruth[trueID, default: 0] += 1
            byPredicted[predictedID, default: 0] += 1
        }
        func pairs(_ n: UInt64) -> UInt64 { n * (n &- 1) / 2 }
        score.truePairs = byTruth.values.reduce(0) { $0 + pairs($1) }
        score.predictedPairs = byPredicted.values.reduce(0) { $0 + pairs($1) }
        score.correctPairs = cells.values.reduce(0) { $0 + pairs($1) }
        score.truePersons = byTruth.count
        score.predictedPersons = byPredicted.count

        var predictedPerTruth: [UInt64: Int] = [:]
        var truthsPerPredicted: [UInt64: Int] = [:]
        for pair in cells.keys {
            predictedPerTruth[pair.truth, default: 0] += 1
            truthsPerPredicted[pair.predicted, default: 0] += 1
        }
        score.underMergedPersons = predictedPerTruth.values.filter { $0 > 1 }.count
        var overMerged: Set<UInt64> = []
        for pair in cells.keys where truthsPerPredicted[pair.predicted]! > 1 { overMerged.insert(pair.truth) }
        score.overMergedPersons = overMerged.count
        return score
    }

    struct Pair: Hashable {
        var truth: UInt64
        var predicted: UInt64
    }
}
