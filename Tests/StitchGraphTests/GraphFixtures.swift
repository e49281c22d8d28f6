import StitchBeacon
@testable import StitchGraph
import StitchIdentity
import StitchStore
import StitchTesting
import StitchWire

/// A graph in a temporary directory, removed when the test ends.
final class TestGraph {
    let directory: TemporaryDirectory
    private(set) var graph: IdentityGraph
    private(set) var configuration: GraphConfiguration
    let options: StoreOptions
    let callTracking: CallTracking

    init(
        configuration: GraphConfiguration = GraphConfiguration(),
        callTracking: CallTracking = CallTracking(),
        mapBytes: Int = 64 << 20
    ) throws {
        directory = try TemporaryDirectory("stitch-graph")
        self.configuration = configuration
        self.callTracking = callTracking
        options = StoreOptions(mapBytes: mapBytes, durability: .nosync)
        graph = try IdentityGraph(
            path: directory.appending("data"), configuration: configuration, callTracking: callTracking,
            storeOptions: options)
    }

    /// Closes and opens the store again, as a restart would (with another
    /// configuration, if given).
    func reopen(configuration newConfiguration: GraphConfiguration? = nil) throws {
        if let newConfiguration { configuration = newConfiguration }
        graph.close()
        graph = try IdentityGraph(
            path: directory.appending("data"), configuration: configuration, callTracking: callTracking,
            storeOptions: options)
    }

    deinit {
        graph.close()
        directory.remove()
    }

    @discardableResult
    func apply(_ beacons: [Stitch_V1_Beacon], receivedMs: Int64 = 1) throws -> ApplyReport {
        try graph.apply(beacons, receivedMs: receivedMs)
    }

    /// The beacon stored as `record`'s body, with its normalized identifiers.
    func beacon(_ record: EventRecord) -> Stitch_V1_Beacon {
        StoredBeacon.decode(record.body, identifiers: record.identifiers, seq: record.seq)
    }

    func person(_ kind: IdentifierKind, _ value: String, site: UInt32 = 1) throws -> UInt64? {
        try graph.personID(site: site, identifier: NormalizedIdentifier(uncheckedKind: kind, value: value))
    }
}

extension IdentityGraph {
    /// Prepares beacons as the server's event loops do, then applies them.
    @discardableResult
    func apply(_ beacons: [Stitch_V1_Beacon], receivedMs: Int64) throws -> ApplyReport {
        var preparer = EventPreparer(rules: self)
        return try apply(beacons.map { preparer.prepare($0, receivedMs: receivedMs) }, nowMs: IdentityGraph.wallClockMs())
    }
}

/// Beacon builders for graph tests.
enum Beacons {
    static func hit(site: UInt32 = 1, time: Int64, _ identifiers: [(IdentifierKind, String)]) -> Stitch_V1_Beacon {
        .with {
            $0.site = site
            $0.timeMs = time
            $0.identifiers = identifiers.map { kind, value in
                .with { $0.kind = Stitch_V1_IdentifierKind(kind); $0.value = value }
            }
            $0.hit = .with { $0.url = "https://shop.example/" }
        }
    }

    static func form(site: UInt32 = 1, time: Int64, cookie: String, phone: String = "", email: String = "") -> Stitch_V1_Beacon {
        var beacon = hit(site: site, time: time, [(.cookie, cookie)])
        beacon.form = .with { $0.formID = "callback"; $0.phone = phone; $0.email = email }
        return beacon
    }
}
