import Foundation
import StitchTesting
import Testing

/// `stitch query lease|pool|explain|history --conversions` against a real
/// `stitch serve` whose pool comes from `--set number_pools=…`.
@Suite("Call tracking from the command line")
struct CallTrackingCLITests {
    static let pool = #"number_pools={"7": {"dynamic_numbers": ["+7 495 100-00-01"], "fallback_number": "+7 495 100-00-09"}}"#

    static let journey = [
        #"{"site": 7, "time_ms": 1767225600000, "identifiers": [{"kind": "IDENTIFIER_KIND_COOKIE", "value": "cookie-cli-0001"}, {"kind": "IDENTIFIER_KIND_SESSION", "value": "session-cli-0001"}], "visit": {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "brand", "landing_url": "https://shop.example/"}}"#,
        #"{"site": 7, "time_ms": 1767225610000, "identifiers": [{"kind": "IDENTIFIER_KIND_SESSION", "value": "session-cli-0001"}], "number_shown": {"tracking_number": "+74951000001"}}"#,
        #"{"site": 7, "time_ms": 1767225700000, "call": {"call_id": "c1", "caller_phone": "8 916 555-44-33", "tracking_number": "+7 495 100-00-01", "duration_s": 75, "answered": true}}"#,
        #"{"site": 7, "time_ms": 1767225800000, "identifiers": [{"kind": "IDENTIFIER_KIND_SESSION", "value": "session-cli-0001"}], "chat": {"provider": "jivo", "chat_id": "chat-0000077"}}"#,
    ]

    @Test func leaseExplainAndAttributedHistory() throws {
        let directory = try TemporaryDirectory("stitch-calls-cli")
        defer { directory.remove() }
        let serve = try ServeProcessTests.ServeProcess(directory: directory, extraArguments: ["--set", Self.pool])
        defer { _ = serve.signal(SIGTERM) }

        let first = try CLITests.stitch("query", "lease", "session-cli-0002", "--site", "7", "--server", serve.queryServer)
        #expect(first.status == 0, "\(first.err)")
        #expect(first.out.hasPrefix("+74951000001  (newly leased"))
        let exhausted = try CLITests.stitch("query", "lease", "session-cli-0003", "--site", "7", "--server", serve.queryServer)
        #expect(exhausted.out.hasPrefix("+74951000009  (pool exhausted: fallback)"))
        let pool = try CLITests.stitch("query", "pool", "--site", "7", "--server", serve.queryServer)
        #expect(pool.out.contains("1 dynamic numbers, 1 held now"))

        let input = directory.appending("journey.ndjson")
        try Self.journey.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let imported = try CLITests.stitch("import", input, "--server", "127.0.0.1:\(serve.ports["ingest"]!)")
        #expect(imported.status == 0, "\(imported.err)")

        let explained = try CLITests.stitch(
            "query", "explain", "cookie", "cookie-cli-0001", "chat", "chat-0000077", "--namespace-b", "jivo",
            "--site", "7", "--server", serve.queryServer)
        #expect(explained.status == 0, "\(explained.err)")
        #expect(explained.out.contains("cookie-cli-0001 → session-cli-0001  by visit"))
        #expect(explained.out.contains("session-cli-0001 → jivo:chat-0000077  by chat"))
        let caller = try CLITests.stitch(
            "query", "explain", "phone", "+7 916 555 44 33", "cookie", "cookie-cli-0001", "--site", "7",
            "--server", serve.queryServer)
        #expect(caller.out.contains("(call matched by the lease of +74951000001)"))

        let history = try CLITests.stitch(
            "query", "history", "phone", "89165554433", "--site", "7", "--types", "call", "--conversions",
            "--model", "first_click", "--server", serve.queryServer)
        #expect(history.status == 0, "\(history.err)")
        #expect(history.out.contains("matched: session session-cli-0001 (lease of +74951000001)"))
        #expect(history.out.contains("unique, target; credit: yandex/cpc/brand [paid search] 100.0%"))
        let badModel = try CLITests.stitch(
            "query", "history", "phone", "89165554433", "--site", "7", "--conversions", "--model", "vibes",
            "--server", serve.queryServer)
        #expect(badModel.status != 0)
        #expect(badModel.err.contains("unknown model 'vibes'"))
    }
}
