import Foundation
import StitchGraph
import StitchWire

extension Stitch_V1_Merge {
    /// The wire form of one change-log record (merge, split or erasure).
    public init(_ record: ChangeRecord) {
        self.init()
        seq = record.seq
        site = record.site
        timeMs = record.timeMs
        winner = record.winner
        loser = record.loser
        causeEvent = record.causeEvent
        kind = Stitch_V1_ChangeKind(rawValue: Int(record.kind.rawValue)) ?? .merge
        reason = Stitch_V1_ChangeReason(rawValue: Int(record.reason.rawValue)) ?? .unspecified
        splitInto = record.parts
        identifierNode = record.identifierNode
    }
}

extension Stitch_V1_RepairResponse {
    public init(_ result: RepairResult) {
        self.init()
        changed = result.changed
        identifierNode = result.identifierNode
        personsRepaired = UInt64(result.personsRepaired)
        personIds = Array(result.personIDs.prefix(1000))
        lastChangeSeq = result.lastChangeSeq
    }
}

extension Stitch_V1_SharedIdentifier {
    public init(_ shared: SharedIdentifier) {
        self.init()
        identifier = Stitch_V1_StoredIdentifier.with {
            $0.kind = Stitch_V1_IdentifierKind(shared.identifier.kind)
            $0.value = shared.identifier.value
            $0.firstSeenMs = shared.firstSeenMs
        }
        source = Stitch_V1_QuarantineSource(rawValue: Int(shared.record.source.rawValue)) ?? .unspecified
        reason = shared.record.reason
        sinceMs = shared.record.sinceMs
        links = UInt32(shared.record.links)
        events = shared.events
    }
}

extension Stitch_V1_ForgetResponse {
    public init(_ erasure: ErasureRecord) {
        self.init()
        erasureSeq = erasure.seq
        timeMs = erasure.timeMs
        identifierHash = Data(erasure.identifierHash)
        personID = erasure.personID
        identifiers = erasure.identifiers
        events = erasure.events
        leases = erasure.leases
        calls = erasure.calls
    }
}
