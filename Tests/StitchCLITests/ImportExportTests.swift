import Foundation
import StitchTesting
import Testing

/// `stitch import` and `stitch export` against real `stitch serve` processes.
@Suite("NDJSON import and export")
struct ImportExportTests {
    static let lines = [
        #"{"site": 1, "time_ms": 1767225600000, "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "ck-import-0001"}, {"kind": "IDENTIFIER_KIND_SESSION", "value": "ss-import-0001"}], "visit": {"utm_source": "yandex", "utm_medium": "cpc", "landing_url": "https://a.example/?utm_source=yandex"}}"#,
        #"{"site": 1, "time_ms": 1767225601000, "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "ck-import-0001"}], "hit": {"url": "https://a.example/catalog"}}"#,
        #"{not json at all"#,
        #"{"site": 1, "time_ms": 1767225602000, "bogus_field": 7, "hit": {}}"#,
        "",
        #"{"site": 1, "time_ms": 0, "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "ck-import-0002"}], "hit": {}}"#,
        #"{"site": 1, "time_ms": 1767225603000, "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "ck-import-0001"}], "form": {"form_id": "callback", "phone": "8 (916) 555-01-02", "email": "Ivan@Mail.RU"}}"#,
        #"{"site": 1, "timeMs": "1767225604000", "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "ck-import-0003"}], "chat": {"provider": "jivo", "chat_id": "v-77", "phone": "+7 916 555 0102"}}"#,
        #"{"site": 1, "time_ms": 1767225605000, "identifiers": [{"kind": "IDENTIFIER_KIND_EMAIL", "value": "ivan@mail.ru"}], "deal": {"crm": "amocrm", "deal_id": "D-1", "contact_id": "501", "status": "DEAL_STATUS_WON", "revenue_minor": 1500000, "currency": "RUB"}}"#,
        #"{"site": 2, "time_ms": 1767225606000, "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "ck-import-0004"}], "hit": {"url": "https://b.example/"}}"#,
    ]

    /// The persons of an export, as sets of "kind:value", independent of ids.
    static func partition(_ ndjson: String) throws -> Set<Set<String>> {
        var persons: Set<Set<String>> = []
        for line in ndjson.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let identifiers = object["identifiers"] as? [[String: Any]] ?? []
            persons.insert(Set(identifiers.map { "\($0["kind"] ?? "?"):\($0["value"] ?? "?")" }))
        }
        return persons
    }

    @Test("import reports bad lines by number and imports the rest; export then import into an empty store gives the same persons")
    func roundTrip() throws {
        let directory = try TemporaryDirectory("stitch-import")
        defer { directory.remove() }
        let input = directory.appending("in.ndjson")
        try Self.lines.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)

        let first = try ServeProcessTests.ServeProcess(directory: directory, dataName: "first")
        let imported = try CLITests.stitch("import", input, "--server", "127.0.0.1:\(first.ports["ingest"]!)")
        #expect(imported.status == 1, "some lines were rejected")
        #expect(imported.out.contains("imported 6, repeats 0 (already stored), rejected 3 of 9 lines"))
        #expect(imported.err.contains("line 3: not a Beacon in JSON"))
        #expect(imported.err.contains("line 4: not a Beacon in JSON"))
        #expect(imported.err.contains("line 6: bad_time"))
        #expect(!imported.err.contains("line 5"), "blank lines are skipped")
        // The same file again (a re-run after an interruption): its lines carry
        // no event_id, so import derives one from each line; nothing is stored twice.
        let twice = try CLITests.stitch("import", input, "--server", "127.0.0.1:\(first.ports["ingest"]!)")
        #expect(twice.out.contains("imported 0, repeats 6 (already stored), rejected 3 of 9 lines"), "\(twice.out)")

        let events = directory.appending("events.ndjson")
        let exportEvents = try CLITests.stitch("export", "events", "--data-dir", directory.appending("first"), "--output", events)
        #expect(exportEvents.status == 0)
        #expect(exportEvents.err.contains("exported 6 events"))
        let personsBefore = try CLITests.stitch("export", "persons", "--data-dir", directory.appending("first"))
        #expect(personsBefore.status == 0)
        let partition = try Self.partition(personsBefore.out)
        // cookie 0001 + session + phone + e-mail (form) + chat (same phone) + cookie 0003 + crm contact (same e-mail).
        #expect(partition.contains { $0.count == 7 })
        #expect(partition.count == 2, "one person per site here")
        #expect(first.signal(SIGTERM) == 0)

        let second = try ServeProcessTests.ServeProcess(directory: directory, dataName: "second")
        let again = try CLITests.stitch("import", events, "--server", "127.0.0.1:\(second.ports["ingest"]!)")
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("imported 6, repeats 0 (already stored), rejected 0"))
        let againTwice = try CLITests.stitch("import", events, "--server", "127.0.0.1:\(second.ports["ingest"]!)")
        #expect(againTwice.status == 0 && againTwice.out.contains("imported 0, repeats 6 (already stored), rejected 0 of 6 lines"), "\(againTwice.out)")
        #expect(second.signal(SIGTERM) == 0)
        let personsAfter = try CLITests.stitch("export", "persons", "--data-dir", directory.appending("second"))
        #expect(try Self.partition(personsAfter.out) == partition)
        let eventsAfter = try CLITests.stitch("export", "events", "--data-dir", directory.appending("second"))
        #expect(eventsAfter.out == (try String(contentsOfFile: events, encoding: .utf8)), "the same events, byte for byte")
    }

    @Test("import says clearly when no server is there")
    func noServer() throws {
        let directory = try TemporaryDirectory("stitch-import")
        defer { directory.remove() }
        let input = directory.appending("in.ndjson")
        try Self.lines[0].write(toFile: input, atomically: true, encoding: .utf8)
        let run = try CLITests.stitch("import", input, "--server", "127.0.0.1:1")
        #expect(run.status == 2)
        #expect(run.err.contains("cannot connect to 127.0.0.1:1"))
    }
}
