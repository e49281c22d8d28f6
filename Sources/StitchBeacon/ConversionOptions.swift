import StitchWire

/// How a history annotates conversions (forms, calls, chats, deals): the
/// unique/target flags and the attribution model.
public struct ConversionOptions: Hashable, Sendable {
    public var model: Stitch_V1_AttributionModel
    /// Visits older than this before a conversion do not count.
    public var lookbackMs: Int64
    /// Time decay: a visit this much older than another gets half its weight.
    public var halfLifeMs: Int64
    /// A conversion is unique when the person had none of its type this long before.
    public var uniquePeriodMs: Int64
    /// A call is a target call when it lasted at least this long.
    public var targetCallSeconds: UInt32
    /// How visits are sorted into sources and channels (the site's own
    /// domains and referral exclusions).
    public var classifier: SourceClassifier

    public static let lookbackMsDefault: Int64 = 30 * 86_400_000
    public static let halfLifeMsDefault: Int64 = 7 * 86_400_000
    public static let uniquePeriodMsDefault: Int64 = 7 * 86_400_000
    public static let targetCallSecondsDefault: UInt32 = 30

    public init(
        model: Stitch_V1_AttributionModel = .lastNonDirect,
        lookbackMs: Int64 = lookbackMsDefault,
        halfLifeMs: Int64 = halfLifeMsDefault,
        uniquePeriodMs: Int64 = uniquePeriodMsDefault,
        targetCallSeconds: UInt32 = targetCallSecondsDefault,
        classifier: SourceClassifier = SourceClassifier()
    ) {
        self.model = model == .unspecified ? .lastNonDirect : model
        self.lookbackMs = lookbackMs
        self.halfLifeMs = halfLifeMs
        self.uniquePeriodMs = uniquePeriodMs
        self.targetCallSeconds = targetCallSeconds
        self.classifier = classifier
    }

    /// How far before the earliest conversion of a page the annotator must see.
    public var contextMs: Int64 { max(lookbackMs, uniquePeriodMs) }
}
