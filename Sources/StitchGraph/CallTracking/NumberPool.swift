import StitchIdentity

/// A site's tracking numbers, normalized (DESIGN.md §5). Its wire form is
/// `stitch.v1.NumberPool`, which is also the `number_pools` setting.
public struct NumberPool: Sendable, Equatable {
    /// Numbers `lease` hands out, one session at a time, in pool order.
    public var dynamicNumbers: [String]
    /// How long a lease lives after its session's last activity.
    public var holdMs: Int64
    /// Shown when every dynamic number is held.
    public var fallbackNumber: String?
    /// Static numbers and the source their calls take.
    public var staticNumbers: [String: StaticNumberSource]
    /// The site's own numbers: junk as identifiers, never matched to a session.
    public var officeNumbers: Set<String>

    /// The hold time of sites without a pool, and of pools that give none.
    public static let holdMsDefault: Int64 = 15 * 60 * 1000

    /// A pool with no numbers: leases still open for numbers the tracker shows
    /// on its own, with the default hold.
    public init() {
        dynamicNumbers = []
        holdMs = Self.holdMsDefault
        fallbackNumber = nil
        staticNumbers = [:]
        officeNumbers = []
    }

    /// Normalizes a pool; every number must be a phone number and appear
    /// in one role only.
    public init(
        dynamicNumbers: [String] = [], holdSeconds: UInt32 = 0, fallbackNumber: String = "",
        staticNumbers: [(number: String, source: StaticNumberSource)] = [], officeNumbers: [String] = []
    ) throws(NumberPoolError) {
        self.init()
        // Tracking numbers are judged without the site's junk list: the
        // office numbers are exactly what that list holds.
        let normalizer = IdentifierNormalizer(junk: .standard)
        var seen: Set<String> = []
        func number(_ raw: String, _ role: String) throws(NumberPoolError) -> String {
            let value: String
            do {
                value = try normalizer.normalize(.phone, raw).value
            } catch {
                throw .badNumber(raw, role: role, reason: "\(error)")
            }
            guard seen.insert(value).inserted else { throw .duplicate(value) }
            return value
        }
        guard dynamicNumbers.count <= GraphLimits.poolDynamicNumbersMax else {
            throw .tooManyNumbers(dynamicNumbers.count)
        }
        for raw in dynamicNumbers { self.dynamicNumbers.append(try number(raw, "dynamic")) }
        if holdSeconds > 0 { holdMs = Int64(holdSeconds) * 1000 }
        if !fallbackNumber.isEmpty { self.fallbackNumber = try number(fallbackNumber, "fallback") }
        for entry in staticNumbers { self.staticNumbers[try number(entry.number, "static")] = entry.source }
        for raw in officeNumbers { self.officeNumbers.insert(try number(raw, "office")) }
    }

    /// What a dialled number is to this site.
    public func role(of number: String) -> NumberRole {
        if officeNumbers.contains(number) { return .office }
        if number == fallbackNumber { return .fallback }
        if let source = staticNumbers[number] { return .staticSource(source) }
        return .dynamic
    }
}

/// What a tracking number is to its site.
public enum NumberRole: Sendable, Equatable {
    /// Matched to sessions by leases (any number not listed as static or
    /// office: trackers may run pools of their own).
    case dynamic
    /// Printed on one channel; its calls take `source`.
    case staticSource(StaticNumberSource)
    /// The site's own number.
    case office
    /// Shown to every session when the pool is exhausted: its calls cannot
    /// be told apart, so it holds no leases and matches no session.
    case fallback
}

/// Why a pool was refused.
public enum NumberPoolError: Error, Equatable, Sendable, CustomStringConvertible {
    case badNumber(String, role: String, reason: String)
    case duplicate(String)
    case tooManyNumbers(Int)

    public var description: String {
        switch self {
        case .badNumber(let raw, let role, let reason): "\(role) number '\(raw)' is not a phone number: \(reason)"
        case .duplicate(let number): "\(number) appears twice in the pool"
        case .tooManyNumbers(let count): "\(count) dynamic numbers; at most \(GraphLimits.poolDynamicNumbersMax)"
        }
    }
}
