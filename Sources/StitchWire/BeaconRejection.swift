/// One beacon of a batch that was not accepted, and why. The rest of the
/// batch is unaffected; the client learns of it in the batch's ack.
public struct BeaconRejection: Hashable, Sendable {
    /// Position of the beacon in its batch, from 0.
    public var index: Int
    /// Why it was refused.
    public var reason: Reason
    /// For people: the field or value at fault.
    public var detail: String

    public init(index: Int, reason: Reason, detail: String) {
        self.index = index
        self.reason = reason
        self.detail = detail
    }

    /// Why a beacon is refused; raw values are metric labels.
    public enum Reason: String, CaseIterable, Hashable, Sendable {
        case missingSite = "missing_site"
        case badTime = "bad_time"
        case missingBody = "missing_body"
        case tooManyIdentifiers = "too_many_identifiers"
        case stringTooLong = "string_too_long"
        case noIdentifiers = "no_identifiers"
        case missingKind = "missing_kind"
        case badStatus = "bad_status"

        /// The code sent to the client in a `BatchAck`.
        public var wireReason: Stitch_V1_BeaconRejectReason {
            switch self {
            case .missingSite: .missingSite
            case .badTime: .badTime
            case .missingBody: .missingBody
            case .tooManyIdentifiers: .tooManyIdentifiers
            case .stringTooLong: .stringTooLong
            case .noIdentifiers: .noIdentifiers
            case .missingKind: .missingKind
            case .badStatus: .badStatus
            }
        }
    }

    /// The form a `BatchAck` carries.
    public var wireMessage: Stitch_V1_BeaconRejection {
        .with {
            $0.index = UInt32(index)
            $0.reason = reason.wireReason
            $0.detail = detail
        }
    }
}
