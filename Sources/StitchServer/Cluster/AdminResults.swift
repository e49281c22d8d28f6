import StitchWire
import Synchronization

/// What this node's appliers answered for admin changes this node put in
/// the log, until the query that asked takes it. Keyed by partition and
/// sequence; bounded (a query that gave up leaves its answer behind).
final class AdminResults: Sendable {
    typealias Answer = Result<Stitch_V1_Response.OneOf_Kind, QueryFailure>
    static let kept = 1024

    private struct Key: Hashable {
        let partition: Int
        let sequence: UInt64
    }

    private let answers = Mutex<[Key: Answer]>([:])

    func put(partition: Int, sequence: UInt64, _ answer: Answer) {
        answers.withLock { answers in
            if answers.count >= Self.kept, let oldest = answers.keys.min(by: { $0.sequence < $1.sequence }) {
                answers[oldest] = nil
            }
            answers[Key(partition: partition, sequence: sequence)] = answer
        }
    }

    func take(partition: Int, sequence: UInt64) -> Answer? {
        answers.withLock { $0.removeValue(forKey: Key(partition: partition, sequence: sequence)) }
    }
}
