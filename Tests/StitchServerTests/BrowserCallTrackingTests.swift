import Foundation
import NIOConcurrencyHelpers
import StitchClient
import StitchGraph
import StitchWire
import Testing

/// Call tracking with the real tracker in headless Chromium: the page's
/// clock can be set wrong (`skew`, ms added to `Date.now`), the way visitors'
/// devices are, while the telephony reports calls by a true clock.
@Suite("Call tracking in Chromium")
struct BrowserCallTrackingTests {
    static let pool: [UInt32: NumberPool] = [1: try! NumberPool(.with {
        $0.dynamicNumbers = ["+74958880001", "+74958880002"]
        $0.fallbackNumber = "+74958880009"
    })]

    /// A shop page: the phone the tracker replaces, a page clock `skew` ms
    /// off, and with `retry` a beacon the tracker kept in localStorage
    /// `retry` ms ago (by the page's clock) after a failed send.
    static let page: ShopServer.Page = { query, intakePort in
        let skew = Int64(query["skew"] ?? "") ?? 0
        let retryAgo = Int64(query["retry"] ?? "")
        let retry = retryAgo.map { ago in
            """
            localStorage.setItem("_stitch_retry", JSON.stringify([{ site: 1, timeMs: Date.now() - \(ago), eventId: "9000001",
              identifiers: [[1, "kept-cookie-0001"], [2, "kept-session-0001"]], type: "hit", body: { url: "https://shop.test/kept" } }]));
            """
        } ?? ""
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
            <script>
              const realNow = Date.now.bind(Date);
              Date.now = () => realNow() + \(skew);
              \(retry)
            </script>
            <script async src="http://127.0.0.1:\(intakePort)/v1/stitch.js" data-site="1" data-number-selector=".phone"></script>
            </head><body><p>Call us: <a class="phone" href="tel:+74950000001">+7 (495) 000-00-01</a></p></body></html>
            """
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Opens the shop as a new visitor with a clock `skew` ms off; returns
    /// its session and the number it was shown once the server stored that.
    static func visit(
        _ browser: WebDriver, _ shop: ShopServer, skew: Int64, source: String, query: QueryClient
    ) async throws -> (session: String, number: String) {
        try await browser.deleteCookies()
        try await browser.navigate("\(shop.origin)/page?skew=\(skew)&utm_source=\(source)&utm_medium=cpc")
        var shown = ""
        try await eventually("the phone replaced by a leased number") {
            shown = try await browser.execute("return document.querySelector('.phone').getAttribute('href')") as? String ?? ""
            return shown.hasPrefix("tel:+7495888000") && !shown.hasSuffix("9")
        }
        let session = try #require(try await browser.execute("return window.stitch.session") as? String)
        try await eventually("the tracker's number_shown stored", seconds: 20) {
            let history = try? await query.history(.with {
                $0.site = 1
                $0.person.identifier = Beacons.identifier(.session, session)
                $0.types = [.numberShown]
            })
            return history?.events.isEmpty == false
        }
        return (session, String(shown.dropFirst("tel:".count)))
    }

    @Test("pages whose clocks are 20 minutes slow and 3 hours fast: each visitor's call a minute later is matched to its session",
          .timeLimit(.minutes(3)))
    func skewedClocksKeepTheirCalls() async throws {
        let intakePort = NIOLockedValueBox(0)
        let shop = try await ShopServer.start(intakePort: intakePort, pages: ["/page": Self.page])
        defer { shop.task.cancel() }
        let server = try await TestServer {
            $0.corsOrigins = [1: [shop.origin]]
            $0.numberPools = Self.pool
        }
        intakePort.withLockedValue { $0 = server.ports.intake }
        let browser = try await WebDriver.start()
        defer { browser.stop() }
        let query = try await server.queryClient()

        let startMs = Self.nowMs()
        let slow = try await Self.visit(browser, shop, skew: -20 * 60_000, source: "yandex", query: query)
        let fast = try await Self.visit(browser, shop, skew: 3 * 3_600_000, source: "google", query: query)
        #expect(slow.number != fast.number, "the first visitor still holds its number")

        // The telephony reports each call by its true clock, a minute on.
        let ingest = try await server.ingestClient()
        let callMs = Self.nowMs() + 60_000
        let ack = try await ingest.send([
            CallTrackingServerTests.call(from: "+79161110001", to: slow.number, at: callMs),
            CallTrackingServerTests.call(from: "+79161110002", to: fast.number, at: callMs),
        ], sequence: 1).get().ack
        #expect(ack?.accepted == 2)
        for (caller, visitor, source) in [("+79161110001", slow, "yandex"), ("+79161110002", fast, "google")] {
            let history = try await query.history(.with {
                $0.site = 1
                $0.person.identifier = Beacons.identifier(.phone, caller)
                $0.conversions = true
            })
            let call = try #require(history.events.first { if case .call = $0.beacon.body { true } else { false } })
            #expect(call.callMatch.kind == .session, "\(caller): \(call.callMatch)")
            #expect(call.callMatch.session == visitor.session, "\(caller)")
            #expect(call.conversion.credits.first?.source.source == source, "\(caller): \(call.conversion.credits)")
            // The visit is on the server's clock; the device's time is kept beside it.
            let visit = try #require(history.events.first { if case .visit = $0.beacon.body { true } else { false } })
            #expect(visit.beacon.timeMs >= startMs - 1_000 && visit.beacon.timeMs <= Self.nowMs(), "\(caller): \(visit.beacon.timeMs)")
            let skew = source == "yandex" ? -20 * 60_000 : 3 * 3_600_000
            #expect(abs(visit.beacon.deviceTimeMs - visit.beacon.timeMs - Int64(skew)) < 60_000, "\(caller): device \(visit.beacon.deviceTimeMs)")
        }
        await ingest.close()
        await query.close()
        await server.stopAndRemove()
    }

    @Test("a beacon kept in localStorage an hour, on a page 3 hours fast, is stored an hour back by the server's clock",
          .timeLimit(.minutes(3)))
    func retriedBatchKeepsItsRealTime() async throws {
        let intakePort = NIOLockedValueBox(0)
        let shop = try await ShopServer.start(intakePort: intakePort, pages: ["/page": Self.page])
        defer { shop.task.cancel() }
        let server = try await TestServer { $0.corsOrigins = [1: [shop.origin]] }
        intakePort.withLockedValue { $0 = server.ports.intake }
        let browser = try await WebDriver.start()
        defer { browser.stop() }
        let query = try await server.queryClient()

        try await browser.navigate("\(shop.origin)/page?skew=\(3 * 3_600_000)&retry=3600000")
        var events: [Stitch_V1_Event] = []
        try await eventually("the kept beacon stored", seconds: 20) {
            events = (try? await query.history(.with {
                $0.site = 1
                $0.person.identifier = Beacons.identifier(.cookie, "kept-cookie-0001")
            }).events) ?? []
            return !events.isEmpty
        }
        let kept = try #require(events.first)
        let expectedMs = Self.nowMs() - 3_600_000
        #expect(abs(kept.beacon.timeMs - expectedMs) < 60_000, "stored at \(kept.beacon.timeMs), expected about \(expectedMs)")
        #expect(abs(kept.beacon.deviceTimeMs - (expectedMs + 3 * 3_600_000)) < 60_000)
        await query.close()
        await server.stopAndRemove()
    }
}
