import StitchGraph
import StitchWire

extension NumberPool {
    /// Normalizes a pool from its wire form (the `number_pools` setting and
    /// `pool_set`); every number must be a phone number in one role only.
    public init(_ pool: Stitch_V1_NumberPool) throws(NumberPoolError) {
        try self.init(
            dynamicNumbers: pool.dynamicNumbers,
            holdSeconds: pool.holdSeconds,
            fallbackNumber: pool.fallbackNumber,
            staticNumbers: pool.staticNumbers.map { entry in
                (entry.number, StaticNumberSource(
                    source: entry.utmSource, medium: entry.utmMedium, campaign: entry.utmCampaign))
            },
            officeNumbers: pool.officeNumbers)
    }

    /// The pool in wire form, numbers normalized.
    public var wire: Stitch_V1_NumberPool {
        .with {
            $0.dynamicNumbers = dynamicNumbers
            $0.holdSeconds = UInt32(clamping: holdMs / 1000)
            $0.fallbackNumber = fallbackNumber ?? ""
            $0.staticNumbers = staticNumbers.keys.sorted().map { number in
                let source = staticNumbers[number]!
                return .with {
                    $0.number = number
                    $0.utmSource = source.source
                    $0.utmMedium = source.medium
                    $0.utmCampaign = source.campaign
                }
            }
            $0.officeNumbers = officeNumbers.sorted()
        }
    }
}
