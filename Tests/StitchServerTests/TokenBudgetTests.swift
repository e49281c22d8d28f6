import Foundation
import NIOConcurrencyHelpers
import StitchClient
@testable import StitchServer
import StitchTesting
import StitchWire
import Testing

/// `token_requests_per_second`: a token over its budget is refused
/// UNAVAILABLE (retry later) on both transports; other tokens go on.
@Suite("Per-token query budgets")
struct TokenBudgetTests {
    @Test("over its budget a token's requests are refused UNAVAILABLE, binary and JSON alike; another token is served")
    func tokenOverBudgetIsRefused() async throws {
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyAssignment("token_requests_per_second=reports=5;*=1000", to: &configuration)
        #expect(configuration.tokenRequestsPerSecond == ["reports": 5, "*": 1000])
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("token_requests_per_second=reports=0", to: &configuration) }

        // The budgets' clock moves only when the test says: a loaded machine's slow steps refill nothing.
        let now = NIOLockedValueBox<Int64>(0)
        let server = try await TestServer(budgetClock: now) {
            $0.tokens = [TokenGrant(token: "reader-secret", sites: [1], name: "reports"), TokenGrant(token: "ops-secret", sites: [], name: "ops")]
            $0.tokenRequestsPerSecond = ["reports": 5]
        }
        let reader = try await server.queryClient(token: "reader-secret")
        for _ in 0..<5 {
            #expect(try await reader.lookup(site: 1, kind: .cookie, value: "cookie-budget-1").found == false)
        }
        let refused = await #expect(throws: ClientError.self) {
            _ = try await reader.lookup(site: 1, kind: .cookie, value: "cookie-budget-1")
        }
        guard case .server(let error) = refused else {
            Issue.record("not a server refusal: \(String(describing: refused))")
            return
        }
        #expect(error.code == .unavailable)
        #expect(error.message.contains("budget of 5 requests/s"))
        // The JSON API takes from the same budget.
        let json = try await QueryAPITests.call("/api/v1/sites/1/person?kind=cookie&value=cookie-budget-1", port: server.ports.http, token: "reader-secret")
        #expect(json.status == 503)
        // Another token is not affected; and in a second the budget is back.
        let ops = try await server.queryClient(token: "ops-secret")
        #expect(try await ops.lookup(site: 1, kind: .cookie, value: "cookie-budget-1").found == false)
        await ops.close()
        now.withLockedValue { $0 += 400_000_000 }
        #expect(try await reader.lookup(site: 1, kind: .cookie, value: "cookie-budget-1").found == false)
        await reader.close()
        await server.stopAndRemove()
    }
}
