import StitchBeacon
import StitchGraph
import StitchStore
import StitchTesting
import StitchWire
import Testing

@Suite struct VerifyCommandTests {
    @Test func verifiesAStoreAndReportsWhatItChecked() throws {
        let directory = try TemporaryDirectory("stitch-cli-verify")
        defer { directory.remove() }
        let path = directory.appending("data")
        do {
            let graph = try IdentityGraph(path: path)
            var preparer = EventPreparer(rules: graph)
            try graph.apply([
                preparer.prepare(.with {
                    $0.site = 1; $0.timeMs = 1
                    $0.identifiers = [.with { $0.kind = .cookie; $0.value = "cookie-verify-1" }]
                    $0.form = .with { $0.phone = "8 916 123 45 67" }
                }, receivedMs: 1),
            ], nowMs: IdentityGraph.wallClockMs())
            graph.close()
        }
        let run = try CLITests.stitch("verify", "--data-dir", path)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("ok  identifiers map to nodes and back: 2"))
        #expect(run.out.contains("is sound"))
    }

    @Test func missingStoreIsAClearError() throws {
        let run = try CLITests.stitch("verify", "--data-dir", "/nonexistent/stitch")
        #expect(run.status == 1)
        #expect(run.err.contains("cannot open the store in /nonexistent/stitch"))
    }
}
