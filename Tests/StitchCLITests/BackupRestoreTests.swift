import Foundation
import StitchClient
import StitchTesting
import StitchWire
import Synchronization
import Testing

/// Tells a background task to stop.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// `stitch backup` beside a server under load, restored as another store:
/// the copy verifies, and a server on it serves the same persons, the pool
/// set through `pool_set` and the audit log.
@Suite("Backup and restore")
struct BackupRestoreTests {
    /// Visitor `index`: a visit of cookie and session, then a form with a phone, linking them.
    static func visitor(_ index: Int, eventID: UInt64) -> [Stitch_V1_Beacon] {
        let cookie = "cookie-restore-\(index)"
        let hit = Stitch_V1_Beacon.with {
            $0.site = 1
            $0.eventID = eventID
            $0.timeMs = 1_767_225_600_000 + Int64(index) * 1000
            $0.identifiers = [.with { $0.kind = .cookie; $0.value = cookie }, .with { $0.kind = .session; $0.value = "session-restore-\(index)" }]
            $0.hit = .with { $0.url = "https://shop.example/" }
        }
        let form = Stitch_V1_Beacon.with {
            $0.site = 1
            $0.eventID = eventID + 1
            $0.timeMs = hit.timeMs + 500
            $0.identifiers = [.with { $0.kind = .cookie; $0.value = cookie }]
            $0.form = .with { $0.formID = "callback"; $0.phone = "+7 916 \(String(format: "%03d-%02d-%02d", index / 10_000 % 1000, index / 100 % 100, index % 100))" }
        }
        return [hit, form]
    }

    @Test("a backup taken under load restores into a store that verifies and serves the same persons, pools and audit log")
    func backupUnderLoadRestores() async throws {
        let directory = try TemporaryDirectory("stitch-restore")
        defer { directory.remove() }
        let serve = try ServeProcessTests.ServeProcess(directory: directory)
        defer { _ = serve.signal(SIGTERM) }
        let pool = directory.appending("pool.json")
        try #"{"dynamic_numbers": ["+74950000001", "+74950000002"], "hold_seconds": 900}"#.write(toFile: pool, atomically: true, encoding: .utf8)
        let set = try await CLITests.stitchOffPool("query", "pool", "--site", "1", "--set", pool, "--server", serve.queryServer)
        #expect(set.status == 0, "\(set.err)")

        // 200 visitors acked before the backup starts.
        let ingest = try await IngestClient.connect(host: "127.0.0.1", port: serve.ports["ingest"]!)
        for batch in 0..<20 {
            let beacons = (batch * 10..<(batch + 1) * 10).flatMap { Self.visitor($0, eventID: UInt64($0) * 2 + 1) }
            #expect(try await ingest.send(beacons, sequence: UInt64(batch + 1)).get() == .ack(.with { $0.accepted = 20 }))
        }
        // More visitors keep coming while the backup is taken.
        let stop = StopFlag()
        let ingestPort = serve.ports["ingest"]!
        let load = Task {
            let client = try await IngestClient.connect(host: "127.0.0.1", port: ingestPort)
            var batch = 1000
            while !stop.isSet {
                let beacons = (batch * 10..<(batch + 1) * 10).flatMap { Self.visitor($0, eventID: UInt64($0) * 2 + 1) }
                _ = try await client.send(beacons, sequence: UInt64(batch)).get()
                batch += 1
            }
            await client.close()
            return batch - 1000
        }
        try await Task.sleep(for: .milliseconds(200))
        let backup = try await CLITests.stitchOffPool("backup", "--data-dir", directory.appending("data"), directory.appending("restored"))
        stop.set()
        let batchesDuring = try await load.value
        #expect(backup.status == 0, "\(backup.err)")
        #expect(batchesDuring > 0, "the backup ran under load")
        await ingest.close()

        let verified = try await CLITests.stitchOffPool("verify", "--data-dir", directory.appending("restored"))
        #expect(verified.status == 0, "\(verified.out)")
        let restored = try ServeProcessTests.ServeProcess(directory: directory, dataName: "restored")
        defer { _ = restored.signal(SIGTERM) }
        let before = try await QueryClient.connect(host: "127.0.0.1", port: serve.ports["query"]!)
        let after = try await QueryClient.connect(host: "127.0.0.1", port: restored.ports["query"]!)
        for index in stride(from: 0, to: 200, by: 7) {
            let original = try await before.lookup(site: 1, kind: .cookie, value: "cookie-restore-\(index)", includeIdentifiers: true)
            let copy = try await after.lookup(site: 1, kind: .cookie, value: "cookie-restore-\(index)", includeIdentifiers: true)
            #expect(copy.found && copy.person.personID == original.person.personID, "visitor \(index)")
            #expect(copy.person.identifiers.count == 3 && copy.person.identifiers.map(\.value) == original.person.identifiers.map(\.value))
        }
        #expect(try await after.pool(site: 1).pool.dynamicNumbers.count == 2, "pools.json came along")
        #expect(try await after.audit().entries.map(\.action) == ["pool_set"], "the audit log came along")
        await before.close()
        await after.close()
    }
}
