import StitchBeacon
import StitchGraph
import StitchWire

extension Stitch_V1_ExplainResponse {
    /// The wire form of an explanation.
    public init(_ explanation: Explanation) {
        self.init()
        switch explanation.verdict {
        case .linked: verdict = .linked
        case .notLinked: verdict = .notLinked
        case .refused: verdict = .refused
        case .unknown: verdict = .unknown
        }
        personA = explanation.personA
        personB = explanation.personB
        steps = explanation.steps.map { step in
            .with {
                $0.from = Stitch_V1_StoredIdentifier(step.from)
                $0.to = Stitch_V1_StoredIdentifier(step.to)
                $0.eventSeq = step.eventSeq
                $0.eventType = Stitch_V1_EventType(step.eventType)
                $0.timeMs = step.timeMs
                $0.via = step.via
            }
        }
        if let refusal = explanation.refusal {
            self.refusal = .with {
                $0.eventSeq = refusal.eventSeq
                $0.timeMs = refusal.timeMs
                $0.reason = refusal.reason
            }
        }
    }
}
