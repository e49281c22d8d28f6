import Foundation
import NIOConcurrencyHelpers
import StitchClient
@testable import StitchServer
import StitchTesting
import StitchWire
import Testing

/// `site_beacons_per_second`: one site's flood is refused at the door, typed
/// and counted, and costs the other sites nothing.
@Suite("Per-site ingest quotas")
struct SiteQuotaTests {
    @Test("a bucket holds a tenth of a second of its rate; a batch may overdraw it, and the debt is repaid before the next")
    func tokenBuckets() {
        let now = NIOLockedValueBox<Int64>(0)
        let quotas = SiteQuotas(rates: [1: 100], defaultRate: 10, burstSeconds: 0.1, nowNanoseconds: { now.withLockedValue { $0 } })
        #expect(quotas.admit([1: 100]) == nil, "a full bucket (10) lets a larger batch in")
        #expect(quotas.admit([1: 1]).map { ($0.key, $0.perSecond) }! == (1, 100), "90 in debt")
        #expect(quotas.admit([1: 1])?.retryAfterNanoseconds == 901_000_000, "the debt is repaid in 0.9 s")
        now.withLockedValue { $0 = 900_000_000 }  // 90 tokens back: the debt is repaid, none left
        #expect(quotas.admit([1: 1]).map { ($0.key, $0.perSecond) }! == (1, 100))
        now.withLockedValue { $0 = 950_000_000 }
        #expect(quotas.admit([1: 50]) == nil)
        // Sites not named get the * rate; a mixed batch over one budget takes from neither.
        now.withLockedValue { $0 = 10_000_000_000 }
        #expect(quotas.admit([7: 11]) == nil)
        #expect(quotas.admit([1: 5, 7: 1]).map { ($0.key, $0.perSecond) }! == (7, 10))
        #expect(quotas.admit([1: 10]) == nil, "site 1's bucket was left whole by the refused batch")
        #expect(quotas.admit([1: 1]).map { ($0.key, $0.perSecond) }! == (1, 100))
        let unlimited = SiteQuotas(rates: [1: 5], defaultRate: nil, nowNanoseconds: { 0 })
        #expect(unlimited.admit([2: 1_000_000]) == nil)
    }

    @Test("over time a flooding site is admitted at its rate, in batches no larger than it sent")
    func floodIsHeldToItsRate() {
        let now = NIOLockedValueBox<Int64>(0)
        let quotas = SiteQuotas(rates: [1: 2000], defaultRate: nil, burstSeconds: 0.1, nowNanoseconds: { now.withLockedValue { $0 } })
        var admitted = 0
        var admittedPerTenth: [Int] = Array(repeating: 0, count: 100)
        // 10 simulated seconds of 50-beacon batches every 0.5 ms (100,000 beacons/s offered).
        for step in 0..<20_000 {
            now.withLockedValue { $0 = Int64(step) * 500_000 }
            if quotas.admit([1: 50]) == nil {
                admitted += 50
                admittedPerTenth[step / 200] += 50
            }
        }
        #expect(abs(admitted - 20_000) <= 200 + 50, "\(admitted) admitted in 10 s at 2,000/s")
        #expect(admittedPerTenth.max()! <= 200 + 200 + 50, "no tenth of a second takes much more than its share: \(admittedPerTenth.max()!)")
    }

    @Test("site numbers come from the network: buckets that refilled are dropped, so any number of sites holds a bounded table")
    func bucketsStayBounded() {
        let now = NIOLockedValueBox<Int64>(0)
        let quotas = SiteQuotas(rates: [:], defaultRate: 1000, nowNanoseconds: { now.withLockedValue { $0 } })
        for site in UInt32(1)...UInt32(3 * SiteQuotas.bucketsKeptMax) {
            now.withLockedValue { $0 += 1_000_000 }  // 1 ms apart: each bucket refills its one beacon within a millisecond
            #expect(quotas.admit([site: 1]) == nil)
        }
        #expect(quotas.bucketCount <= SiteQuotas.bucketsKeptMax + 1)
        // A bucket in use is kept: its debt stands.
        #expect(quotas.admit([1: 1000]) == nil)
        #expect(quotas.admit([1: 1]).map { ($0.key, $0.perSecond) }! == (1, 1000))
    }

    @Test("over budget, a batch is refused whole with OVER_QUOTA and counted; other sites are served; the setting is parsed and shown")
    func floodIsRefusedTyped() async throws {
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyAssignment("site_beacons_per_second=1=100;*=100000", to: &configuration)
        #expect(configuration.siteBeaconsPerSecond == [1: 100, 0: 100_000])
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("site_beacons_per_second=1=0", to: &configuration) }
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("site_beacons_per_second=x=5", to: &configuration) }

        // The budgets' clock moves only when the test says: a loaded machine's slow steps refill nothing.
        let now = NIOLockedValueBox<Int64>(0)
        let server = try await TestServer(budgetClock: now) { $0.siteBeaconsPerSecond = [1: 100] }
        let ingest = try await server.ingestClient()
        func beacons(site: UInt32, _ count: Int, from: Int) -> [Stitch_V1_Beacon] {
            (0..<count).map { index in
                var beacon = Beacons.hit(timeMs: 1_700_000_000_000, cookie: "cookie-quota-\(from + index)", session: "session-quota-\(from + index)")
                beacon.site = site
                return beacon
            }
        }
        #expect(try await ingest.send(beacons(site: 1, 100, from: 0), sequence: 1).get().ack?.accepted == 100)
        // The pause begins when the refused batch arrives, so after this instant.
        let start = ContinuousClock.now
        let refused = try await ingest.send(beacons(site: 1, 50, from: 100), sequence: 2).get().refusal
        #expect(refused?.code == .overQuota)
        #expect(refused?.closing == false)
        #expect(refused?.message.contains("site 1") == true)
        #expect(refused?.message.contains("resend it in 901 ms or later") == true, "\(refused?.message ?? "")")
        // The refusal pauses reading this connection until the budget has
        // room, at most 250 ms (a flood is slowed at the socket): its next
        // batch, of an unlimited site, is read only after.
        #expect(try await ingest.send(beacons(site: 2, 5, from: 500), sequence: 3).get().ack?.accepted == 5)
        #expect(ContinuousClock.now - start >= .milliseconds(240))
        // Site 2 has no budget and another connection is served; a batch
        // mixing site 2 with site 1 is refused whole.
        let other = try await server.ingestClient()
        #expect(try await other.send(beacons(site: 2, 200, from: 200), sequence: 1).get().ack?.accepted == 200)
        #expect(try await other.send(beacons(site: 2, 5, from: 400) + beacons(site: 1, 50, from: 405), sequence: 2).get().refusal?.code == .overQuota)
        await other.close()
        // The first connection goes on: in a second the debt is repaid.
        now.withLockedValue { $0 += 1_000_000_000 }
        #expect(try await ingest.send(beacons(site: 1, 50, from: 100), sequence: 4).get().ack?.accepted == 50)
        await ingest.close()
        let metrics = try await MetricsEndpointTests.get("/metrics", port: server.ports.http)
        #expect(metrics.contains("stitch_frames_rejected_total{reason=\"over_quota\",transport=\"tcp\"} 2"))
        await server.stopAndRemove()
    }
}
