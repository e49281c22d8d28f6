import Foundation
import StitchTesting
import Testing

/// `stitch load --verify` end to end against a real `stitch serve`.
@Suite("stitch load --verify")
struct LoadVerifyTests {
    @Test("a small world: every acked beacon is in its person's history, no false merges with the office phones declared")
    func smallWorld() throws {
        let directory = try TemporaryDirectory("stitch-verify")
        defer { directory.remove() }
        let serve = try ServeProcessTests.ServeProcess(
            directory: directory, extraArguments: ["--set", "junk_phones=1=+74950000001;2=+74950000002"])
        let run = try CLITests.stitch(
            "load", "--verify", "--sites", "2", "--world-persons", "150", "--connections", "2",
            "--port", "\(serve.ports["ingest"]!)", "--query-port", "\(serve.ports["query"]!)")
        #expect(run.status == 0, "\(run.out)\n\(run.err)")
        #expect(run.out.contains("every acked beacon is in its person's history"))
        #expect(run.out.contains("over-merged true persons 0"))
        #expect(run.out.contains("precision 1.00000"))
        #expect(serve.signal(SIGTERM) == 0)
    }

    @Test("--query-rate sends lookups open loop on its schedule beside ingest, and every one is answered and timed")
    func openLoopQueries() throws {
        let directory = try TemporaryDirectory("stitch-load-queries")
        defer { directory.remove() }
        let serve = try ServeProcessTests.ServeProcess(directory: directory, extraArguments: [])
        let run = try CLITests.stitch(
            "load", "--rate", "2000", "--duration", "1", "--query-rate", "200", "--sites", "2", "--persons", "1000",
            "--connections", "1", "--port", "\(serve.ports["ingest"]!)", "--query-port", "\(serve.ports["query"]!)")
        #expect(run.status == 0, "\(run.out)\n\(run.err)")
        // 200 requests are due within the second; each is answered (found or NOT_FOUND).
        let answered = run.out.split(separator: "\n").first { $0.hasPrefix("queries") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }
        #expect(answered == 200, "\(run.out)")
        #expect(run.out.contains("lookups   latency p50"))
        #expect(serve.signal(SIGTERM) == 0)
    }
}
