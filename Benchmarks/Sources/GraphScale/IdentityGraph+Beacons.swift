import StitchBeacon
import StitchGraph
import StitchWire

extension IdentityGraph {
    /// Prepares beacons as the server's event loops do, then applies them in
    /// one transaction: the figures include preparation, as they always did.
    @discardableResult
    func apply(_ beacons: [Stitch_V1_Beacon], receivedMs: Int64) throws -> ApplyReport {
        var preparer = EventPreparer(rules: self)
        return try apply(beacons.map { preparer.prepare($0, receivedMs: receivedMs) }, nowMs: IdentityGraph.wallClockMs())
    }
}
