import Foundation
import NIOConcurrencyHelpers
import StitchClient
import StitchGraph
import StitchServer
import StitchWire
import Testing

/// An open page keeps its number (the tracker renews its lease while the
/// page is visible), in headless Chromium. Each visitor is a browser of its
/// own, so the first one's page stays open while the second arrives.
@Suite("Open pages keep their numbers in Chromium")
struct BrowserLeaseRenewalTests {
    static let number = "+74959990001"
    static let fallback = "+74959990009"

    static func pool(holdSeconds: UInt32) -> [UInt32: NumberPool] {
        [1: try! NumberPool(.with {
            $0.dynamicNumbers = [number]
            $0.fallbackNumber = fallback
            $0.holdSeconds = holdSeconds
        })]
    }

    /// A shop, a server with a one-number pool, and two browsers.
    struct World {
        let shop: ShopServer
        let server: TestServer
        let first: WebDriver
        let second: WebDriver

        static func start(holdSeconds: UInt32, renewalMaxSeconds: Int? = nil) async throws -> World {
            let intakePort = NIOLockedValueBox(0)
            let shop = try await ShopServer.start(intakePort: intakePort, pages: ["/page": BrowserCallTrackingTests.page])
            let server = try await TestServer {
                $0.corsOrigins = [1: [shop.origin]]
                $0.numberPools = BrowserLeaseRenewalTests.pool(holdSeconds: holdSeconds)
                if let renewalMaxSeconds { $0.leaseRenewalMaxSeconds = renewalMaxSeconds }
            }
            intakePort.withLockedValue { $0 = server.ports.intake }
            let (first, second) = try await WebDriver.startTwo()
            return World(shop: shop, server: server, first: first, second: second)
        }

        func stop() async {
            first.stop()
            second.stop()
            shop.task.cancel()
            await server.stopAndRemove()
        }

        /// Opens the shop in `browser` from `source`; returns its session
        /// and the `tel:` number shown once replaced.
        func open(_ browser: WebDriver, source: String) async throws -> (session: String, number: String) {
            try await browser.navigate("\(shop.origin)/page?utm_source=\(source)&utm_medium=cpc")
            var href = ""
            try await eventually("a number from the pool shown") {
                href = try await browser.execute("return document.querySelector('.phone').getAttribute('href')") as? String ?? ""
                return href.hasPrefix("tel:+749599900")
            }
            let session = try #require(try await browser.execute("return window.stitch.session") as? String)
            return (session, String(href.dropFirst("tel:".count)))
        }

        func shownNumber(_ browser: WebDriver) async throws -> String {
            try await browser.execute("return document.querySelector('.phone').textContent") as? String ?? ""
        }
    }

    /// Makes the page hidden, as switching tabs does.
    static let hide = """
        Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
        document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
        """

    @Test("a page open and idle past the hold keeps its number: the next visitor gets the fallback, the call goes to the first visitor's ad",
          .timeLimit(.minutes(3)))
    func openPageKeepsItsNumber() async throws {
        let world = try await World.start(holdSeconds: 20)
        let first = try await world.open(world.first, source: "yandex")
        #expect(first.number == Self.number)
        // Visible and idle for 30 s: 10 s past the hold.
        try await Task.sleep(for: .seconds(30))
        let second = try await world.open(world.second, source: "google")
        #expect(second.number == Self.fallback, "the number is still on the first visitor's screen")

        let ingest = try await world.server.ingestClient()
        let ack = try await ingest.send([CallTrackingServerTests.call(from: "+79162220001", to: Self.number, at: BrowserCallTrackingTests.nowMs())], sequence: 1).get().ack
        #expect(ack?.accepted == 1)
        let query = try await world.server.queryClient()
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.phone, "+79162220001")
            $0.types = [.call]
            $0.conversions = true
        })
        let call = try #require(history.events.first)
        #expect(call.callMatch.kind == .session && call.callMatch.session == first.session, "\(call.callMatch)")
        #expect(call.conversion.credits.map(\.source.source) == ["yandex"])
        let renewals = try await query.stats().counters.first { $0.name == "stitch_leases_total{kind=\"renewed\"}" }?.value ?? 0
        #expect(renewals >= 3, "about one renewal per third of the hold: \(renewals)")
        await query.close()
        await ingest.close()
        await world.stop()
    }

    @Test("a hidden page stops renewing: its number goes back to the pool after the hold", .timeLimit(.minutes(3)))
    func hiddenPageReleasesItsNumber() async throws {
        let world = try await World.start(holdSeconds: 6)
        _ = try await world.open(world.first, source: "yandex")
        _ = try await world.first.execute(Self.hide)
        try await Task.sleep(for: .seconds(8))
        let second = try await world.open(world.second, source: "google")
        #expect(second.number == Self.number, "hidden past the hold, the first page no longer holds the number")
        await world.stop()
    }

    @Test("renewals stop at the cap: the page puts the site's own number back and the number returns to the pool",
          .timeLimit(.minutes(3)))
    func renewalCapHolds() async throws {
        let world = try await World.start(holdSeconds: 6, renewalMaxSeconds: 8)
        _ = try await world.open(world.first, source: "yandex")
        try await eventually("the page shows the site's own number again", seconds: 30) {
            try await world.shownNumber(world.first) == "+7 (495) 000-00-01"
        }
        let query = try await world.server.queryClient()
        try await eventually("the number free again after its hold", seconds: 30) {
            try await query.lease(site: 1, session: "probe-session-0001").trackingNumber == Self.number
        }
        await query.close()
        await world.stop()
    }
}
