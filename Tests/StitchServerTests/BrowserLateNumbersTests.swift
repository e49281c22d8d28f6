import Foundation
import NIOConcurrencyHelpers
import StitchClient
import StitchGraph
import StitchServer
import StitchWire
import Testing

/// Numbers that appear after load (SPA headers, click-built modals,
/// re-renders) and numbers found as text, in Chromium: the tracker watches
/// the document and replaces the site's phone wherever it shows.
@Suite("Numbers that appear later (Chromium)")
struct BrowserLateNumbersTests {
    static let sitePhone = "+7 495 000-00-00"

    static func start() async throws -> (shop: ShopServer, server: TestServer, browser: WebDriver) {
        let intakePort = NIOLockedValueBox(0)
        let shop = try await ShopServer.start(intakePort: intakePort, pages: ["/page": BrowserShop.page])
        let server = try await TestServer {
            $0.corsOrigins = [1: [shop.origin]]
            $0.numberPools = [1: try! NumberPool(.with {
                $0.dynamicNumbers = ["+74953210001"]
                $0.fallbackNumber = "+74953210009"
            })]
        }
        intakePort.withLockedValue { $0 = server.ports.intake }
        return (shop, server, try await WebDriver.start())
    }

    static func url(_ shop: ShopServer, body: String) -> String {
        "\(shop.origin)/page?body=\(body)&numbers=\(sitePhone.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
    }

    static func text(_ browser: WebDriver, _ selector: String) async throws -> String {
        try await browser.execute("const e = document.querySelector('\(selector)'); return e ? e.textContent : ''") as? String ?? ""
    }

    static func numbersShown(_ server: TestServer, _ browser: WebDriver) async throws -> [String] {
        let session = try await browser.execute("return Stitch.session") as? String ?? ""
        let query = try await server.queryClient()
        defer { Task { await query.close() } }
        let history = try? await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.session, session)
            $0.types = [.numberShown]
        })
        return history?.events.map(\.beacon.numberShown.trackingNumber) ?? []
    }

    @Test("a header rendered 1.5 s after load and a modal built on click show the leased number", .timeLimit(.minutes(3)))
    func lateHeaderAndModal() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        try await browser.navigate(Self.url(shop, body: "late"))
        try await eventually("the late header replaced", seconds: 20) {
            try await Self.text(browser, "header").contains("+7 (495) 321-00-01")
        }
        let href = try await browser.execute("return document.querySelector('header a').getAttribute('href')") as? String
        #expect(href == "tel:+74953210001")
        _ = try await browser.execute("document.getElementById('open').click()")
        try await eventually("the modal replaced") { try await Self.text(browser, "#modal").contains("+7 (495) 321-00-01") }
        #expect(!(try await Self.text(browser, "#modal")).contains("000-00-00"))
        try await eventually("number_shown stored once", seconds: 20) { try await Self.numbersShown(server, browser) == ["+74953210001"] }
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("the site's phone found as text in three writings and in a tel: link, without markup; others left alone",
          .timeLimit(.minutes(3)))
    func textWithoutSelector() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        try await browser.navigate(Self.url(shop, body: "text"))
        try await eventually("every writing replaced", seconds: 20) {
            let all = try await Self.text(browser, "body")
            return !all.contains("000-00-00") && !all.contains("84950000000")
        }
        #expect(try await Self.text(browser, "#a") == "Sales: +7 (495) 321-00-01")
        #expect(try await Self.text(browser, "#b") == "Office: +7 (495) 321-00-01, fax +7 495 111-11-11")
        #expect(try await Self.text(browser, "#link") == "+7 (495) 321-00-01")
        #expect(try await browser.execute("return document.getElementById('link').getAttribute('href')") as? String == "tel:+74953210001")
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("a header re-rendered ten times is replaced each time, with one number_shown", .timeLimit(.minutes(3)))
    func rerendersShowOnce() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        try await browser.navigate(Self.url(shop, body: "rerender"))
        try await Task.sleep(for: .seconds(3))  // ten renders, 150 ms apart
        #expect(try await Self.text(browser, "#header") == "+7 (495) 321-00-01")
        try await eventually("number_shown stored", seconds: 20) { try await !Self.numbersShown(server, browser).isEmpty }
        try await Task.sleep(for: .seconds(2))  // the tracker flushes within a second
        #expect(try await Self.numbersShown(server, browser) == ["+74953210001"])
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("main-thread time per pass on a page of 5,000 nodes, bursts of 100 new nodes", .timeLimit(.minutes(3)))
    func passCostOnABigPage() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        try await browser.navigate(Self.url(shop, body: "big"))
        // The first burst brings the site's phone: the number is leased then.
        _ = try await browser.execute("window.__burst()")
        try await eventually("the number leased", seconds: 20) {
            try await browser.execute("return Stitch.stats.numberShownMs > 0") as? Bool == true
        }
        _ = try await browser.execute("Stitch.stats.maxPassMs = 0; Stitch.stats.passes = 0")
        for _ in 0..<19 {
            _ = try await browser.execute("window.__burst()")
            try await Task.sleep(for: .milliseconds(50))
        }
        var replaced = 0
        try await eventually("every burst's phones replaced") {
            replaced = try await browser.execute("return document.body.innerText.split('+7 (495) 321-00-01').length - 1") as? Int ?? 0
            return replaced == 200
        }
        let stats = try await browser.execute("return Stitch.stats") as? [String: Any] ?? [:]
        print("5,000-node page, 20 bursts of 100 nodes: \(stats["passes"] ?? "?") passes, the longest \(stats["maxPassMs"] ?? "?") ms, the last \(stats["lastPassMs"] ?? "?") ms")
        #expect((stats["maxPassMs"] as? Double ?? 99) < 50, "a pass scans what changed, not the page")
        shop.task.cancel()
        await server.stopAndRemove()
    }
}
