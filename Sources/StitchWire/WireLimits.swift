/// Every bound the wire format enforces, in one place (STYLE.md: limits on
/// everything). Each one is documented in `proto/FRAMING.md`; change both
/// together.
///
/// A value from the network is checked against its limit before it is used
/// to size anything, so a lying length or a decompression bomb costs the
/// server no more than the limit.
public struct WireLimits: Hashable, Sendable {
    /// Largest payload (bytes after the header, as sent) of one frame.
    public var frameBytesMax: Int
    /// Largest payload after inflation, and largest uncompressed payload.
    public var inflatedBytesMax: Int
    /// Most beacons in one batch.
    public var batchBeaconsMax: Int
    /// Most identifiers carried by one beacon.
    public var beaconIdentifiersMax: Int
    /// Longest raw identifier value, in UTF-8 bytes.
    public var identifierValueBytesMax: Int
    /// Longest identifier namespace, in UTF-8 bytes.
    public var identifierNamespaceBytesMax: Int
    /// Longest URL field (landing URL, referrer, page URL), in UTF-8 bytes.
    public var urlBytesMax: Int
    /// Longest of every other string field, in UTF-8 bytes.
    public var textBytesMax: Int
    /// Latest accepted event time: 2200-01-01T00:00:00Z in Unix milliseconds.
    /// A later time is a unit mistake (microseconds), not a future event.
    public var timeMsMax: Int64

    public init(
        frameBytesMax: Int = 1 << 20,
        inflatedBytesMax: Int = 4 << 20,
        batchBeaconsMax: Int = 4096,
        beaconIdentifiersMax: Int = 16,
        identifierValueBytesMax: Int = 256,
        identifierNamespaceBytesMax: Int = 64,
        urlBytesMax: Int = 2048,
        textBytesMax: Int = 256,
        timeMsMax: Int64 = 7_258_118_400_000
    ) {
        precondition(frameBytesMax > 0 && frameBytesMax <= Int(UInt32.max))
        precondition(inflatedBytesMax > 0 && inflatedBytesMax <= Int(UInt32.max))
        self.frameBytesMax = frameBytesMax
        self.inflatedBytesMax = inflatedBytesMax
        self.batchBeaconsMax = batchBeaconsMax
        self.beaconIdentifiersMax = beaconIdentifiersMax
        self.identifierValueBytesMax = identifierValueBytesMax
        self.identifierNamespaceBytesMax = identifierNamespaceBytesMax
        self.urlBytesMax = urlBytesMax
        self.textBytesMax = textBytesMax
        self.timeMsMax = timeMsMax
    }

    /// The limits of FRAMING.md.
    public static let standard = WireLimits()
}
