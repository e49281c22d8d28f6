import Foundation
import NIOConcurrencyHelpers
import StitchClient
import StitchGraph
import StitchServer
import StitchWire
import Testing

/// The tracker in the real world, in headless Chromium: crawlers that render
/// JavaScript, consent before tracking, prerendered pages.
@Suite("The tracker in the real world (Chromium)")
struct BrowserRealWorldTests {
    static let googlebot = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    static let yandexbot = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"

    static func start(_ configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in })
        async throws -> (shop: ShopServer, server: TestServer)
    {
        let intakePort = NIOLockedValueBox(0)
        let shop = try await ShopServer.start(intakePort: intakePort, pages: ["/page": BrowserShop.page])
        let server = try await TestServer {
            $0.corsOrigins = [1: [shop.origin]]
            $0.numberPools = [1: try! NumberPool(.with {
                $0.dynamicNumbers = ["+74956660001", "+74956660002"]
                $0.fallbackNumber = "+74956660009"
            })]
            configure(&$0)
        }
        intakePort.withLockedValue { $0 = server.ports.intake }
        return (shop, server)
    }

    static func href(_ browser: WebDriver) async throws -> String {
        try await browser.execute("return document.querySelector('.phone').getAttribute('href')") as? String ?? ""
    }

    static func events(_ server: TestServer) async throws -> UInt64 {
        let query = try await server.queryClient()
        defer { Task { await query.close() } }
        return try await query.stats().events
    }

    @Test("six renders by Googlebot and YandexBot take no number and are stored as bots; the person after them gets one",
          .timeLimit(.minutes(3)))
    func crawlersTakeNoNumbers() async throws {
        let (shop, server) = try await Self.start()
        let query = try await server.queryClient()
        var botVisitors: [String] = []
        for agent in [Self.googlebot, Self.yandexbot] {
            let bot = try await WebDriver.start(arguments: ["--user-agent=\(agent)"])
            defer { bot.stop() }
            for render in 0..<3 {
                try await bot.deleteCookies()
                try await bot.navigate("\(shop.origin)/page?render=\(render)")
                var visitor = ""
                try await eventually("the crawler's visit stored", seconds: 20) {
                    visitor = try await bot.execute("return window.stitch && window.stitch.visitor") as? String ?? ""
                    if visitor.isEmpty { return false }
                    return try await query.lookup(site: 1, kind: .cookie, value: visitor).found
                }
                botVisitors.append(visitor)
                #expect(try await Self.href(bot) == "tel:+74950000001", "a crawler's page keeps the site's number")
            }
        }
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, botVisitors[0])
            $0.types = [.visit]
        })
        #expect(history.events.first?.beacon.visit.device == .bot)

        let person = try await WebDriver.start()
        defer { person.stop() }
        try await person.navigate("\(shop.origin)/page?utm_source=yandex&utm_medium=cpc")
        try await eventually("the person's number shown") { try await Self.href(person).hasPrefix("tel:+749566600") }
        #expect(try await Self.href(person) == "tel:+74956660001", "the crawlers left the first number free")
        // The added latency of committing the visit before the lease (README).
        let stats = try await person.execute("return window.stitch.stats") as? [String: Any] ?? [:]
        print("number shown \(stats["numberShownMs"] ?? "?") ms after navigation start; the visit's commit took \(stats["flushWaitMs"] ?? "?") ms of it")
        let counters = try await query.stats().counters
        #expect(counters.first { $0.name == #"stitch_leases_total{kind="new"}"# }?.value == 1)
        await query.close()
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("with data-consent=required nothing is set or sent until Stitch.consent(true); withdrawing deletes the cookie",
          .timeLimit(.minutes(3)))
    func consentFirst() async throws {
        let (shop, server) = try await Self.start()
        let browser = try await WebDriver.start()
        defer { browser.stop() }
        try await browser.navigate("\(shop.origin)/page?consent=required&utm_source=yandex&utm_medium=cpc")
        try await Task.sleep(for: .seconds(2))
        let cookies = try await browser.execute("return document.cookie") as? String ?? ""
        #expect(!cookies.contains("_stitch"), "\(cookies)")
        #expect(try await Self.href(browser) == "tel:+74950000001", "no number before consent")
        #expect(try await Self.events(server) == 0, "nothing sent before consent")

        _ = try await browser.execute("Stitch.consent(true)")
        let visitor = try #require(try await browser.execute("return Stitch.visitor") as? String)
        let query = try await server.queryClient()
        try await eventually("the visit arrives after consent", seconds: 20) {
            try await query.lookup(site: 1, kind: .cookie, value: visitor).found
        }
        try await eventually("the number replaced after consent") { try await Self.href(browser).hasPrefix("tel:+749566600") }

        _ = try await browser.execute("Stitch.consent(false)")
        let after = try await browser.execute("return document.cookie") as? String ?? ""
        #expect(!after.contains("_stitch_vid") && !after.contains("_stitch_s="), "\(after)")
        #expect(try await Self.href(browser) == "tel:+74950000001", "the site's number is back")
        await query.close()
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("a prerendered page counts its visit and leases a number only once it is shown", .timeLimit(.minutes(3)))
    func prerenderWaits() async throws {
        let (shop, server) = try await Self.start()
        let browser = try await WebDriver.start()
        defer { browser.stop() }
        try await browser.navigate("\(shop.origin)/page?head=prerender")
        try await Task.sleep(for: .seconds(2))
        #expect(try await Self.events(server) == 0)
        #expect(try await Self.href(browser) == "tel:+74950000001")
        _ = try await browser.execute("window.__activate()")
        try await eventually("the visit and the number after activation", seconds: 20) {
            try await Self.events(server) >= 2
        }
        try await eventually("the number replaced") { try await Self.href(browser).hasPrefix("tel:+749566600") }
        shop.task.cancel()
        await server.stopAndRemove()
    }
}
