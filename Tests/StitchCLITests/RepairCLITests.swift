import Foundation
import StitchTesting
import Testing

/// `stitch query quarantine|shared|merges|unquarantine|forget|audit` and
/// `stitch backup --compact` against a real `stitch serve`.
@Suite("Repairs from the command line")
struct RepairCLITests {
    /// Three visitors; each leaves a form with the office phone, the first
    /// also with their own e-mail (kept for the erasure).
    static func journey() -> [String] {
        var lines: [String] = []
        for visitor in 1...3 {
            let time = 1_767_225_600_000 + Int64(visitor) * 60_000
            lines.append(#"{"site": 7, "time_ms": \#(time), "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "cookie-erase-\#(visitor)"}, {"kind": "IDENTIFIER_KIND_SESSION", "value": "session-erase-\#(visitor)"}], "visit": {"utm_source": "yandex", "landing_url": "https://shop.example/"}}"#)
            let email = visitor == 1 ? #", "email": "secret.person@yandex.ru""# : ""
            lines.append(#"{"site": 7, "time_ms": \#(time + 1000), "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "cookie-erase-\#(visitor)"}], "form": {"form_id": "callback", "phone": "+7 495 765-43-21"\#(email)}}"#)
        }
        return lines
    }

    @Test func quarantineListForgetAndCompactBackup() throws {
        let directory = try TemporaryDirectory("stitch-repair-cli")
        defer { directory.remove() }
        let serve = try ServeProcessTests.ServeProcess(directory: directory, extraArguments: ["--set", "hub_links_max=0"])
        defer { _ = serve.signal(SIGTERM) }
        let input = directory.appending("journey.ndjson")
        try Self.journey().joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let imported = try CLITests.stitch("import", input, "--server", "127.0.0.1:\(serve.ports["ingest"]!)")
        #expect(imported.status == 0, "\(imported.err)")
        let glued = try CLITests.stitch("query", "lookup", "cookie", "cookie-erase-3", "--site", "7", "--server", serve.queryServer)
        #expect(glued.out.contains("cookie-erase-1"), "the office phone glued the visitors: \(glued.out)")

        let quarantined = try CLITests.stitch(
            "query", "quarantine", "phone", "8 495 765-43-21", "--site", "7", "--reason", "office", "--server", serve.queryServer)
        #expect(quarantined.status == 0, "\(quarantined.err)")
        #expect(quarantined.out.hasPrefix("quarantined (node"))
        let apart = try CLITests.stitch("query", "lookup", "cookie", "cookie-erase-3", "--site", "7", "--server", serve.queryServer)
        #expect(!apart.out.contains("cookie-erase-1"), "\(apart.out)")
        let shared = try CLITests.stitch("query", "shared", "--site", "7", "--server", serve.queryServer)
        #expect(shared.out.contains("phone +74957654321  manual"), "\(shared.out)")
        #expect(shared.out.contains("3 events  office"))
        let feed = try CLITests.stitch("query", "merges", "--site", "7", "--server", serve.queryServer)
        #expect(feed.out.contains("split, new persons"), "\(feed.out)")

        let forgotten = try CLITests.stitch("query", "forget", "email", "Secret.Person@yandex.ru", "--site", "7", "--server", serve.queryServer)
        #expect(forgotten.status == 0, "\(forgotten.err)")
        #expect(forgotten.out.contains("3 identifiers, 2 events"), "\(forgotten.out)")
        #expect(!forgotten.out.contains("secret.person"), "the answer names no erased value")
        let gone = try CLITests.stitch("query", "lookup", "cookie", "cookie-erase-1", "--site", "7", "--server", serve.queryServer)
        #expect(gone.status == 3)
        let audit = try CLITests.stitch("query", "audit", "--site", "7", "--server", serve.queryServer)
        #expect(audit.status == 0, "\(audit.err)")
        #expect(audit.out.contains("quarantine  site 7  by loopback  identifier_kind=phone identifier_hash="), "\(audit.out)")
        #expect(audit.out.contains("reason=office  → ok: "))
        #expect(audit.out.contains("forget  site 7  by loopback  identifier_kind=email identifier_hash="))
        #expect(audit.out.contains("→ ok: person ") && audit.out.contains("2 entries; next: --after"))
        #expect(!audit.out.contains("secret.person") && !audit.out.contains("74957654321"), "identifiers by hash only")

        // A compacting copy beside the running server holds no erased value.
        let copy = directory.appending("backup")
        let backup = try CLITests.stitch("backup", "--data-dir", directory.appending("data"), "--compact", copy)
        #expect(backup.status == 0, "\(backup.err)")
        // Every shard's file of the copy (site 7 may live in any of them).
        var bytes = Data()
        for file in FileManager.default.enumerator(atPath: copy)!.compactMap({ $0 as? String }) where file.hasSuffix("data.mdb") {
            bytes += try Data(contentsOf: URL(fileURLWithPath: copy + "/" + file))
        }
        for erased in ["secret.person@yandex.ru", "cookie-erase-1", "session-erase-1"] {
            #expect(bytes.range(of: Data(erased.utf8)) == nil, "\(erased) is still in the compact copy")
        }
        #expect(bytes.range(of: Data("cookie-erase-2".utf8)) != nil, "what was not erased is in the copy")
        #expect(FileManager.default.fileExists(atPath: copy + "/audit/data.mdb"), "the backup holds the audit log")
        let verified = try CLITests.stitch("verify", "--data-dir", copy)
        #expect(verified.status == 0, "\(verified.out)")

        // `stitch carry` writes only into a new store without events.
        let intoEvents = try CLITests.stitch("carry", "--from", directory.appending("data"), "--to", copy)
        #expect(intoEvents.status == 1 && intoEvents.err.contains("already holds"), "\(intoEvents.err)")
        let empty = directory.appending("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let intoNothing = try CLITests.stitch("carry", "--from", directory.appending("data"), "--to", empty)
        #expect(intoNothing.status == 1 && intoNothing.err.contains("not a Stitch store yet"), "\(intoNothing.err)")
    }
}
