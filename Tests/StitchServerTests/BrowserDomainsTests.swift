import Foundation
import NIOConcurrencyHelpers
import StitchClient
import StitchGraph
import StitchServer
import StitchWire
import Testing

/// One visitor across a site's subdomains, in Chromium with the shop's host
/// names mapped to loopback: cookies on the registrable domain, the session
/// and its number carried over, host-only ids of earlier versions linked.
@Suite("One visitor across subdomains (Chromium)")
struct BrowserDomainsTests {
    static let hosts = "MAP shop.test 127.0.0.1, MAP *.shop.test 127.0.0.1, MAP *.shop.co.uk 127.0.0.1"

    static func start() async throws -> (shop: ShopServer, server: TestServer, browser: WebDriver) {
        let intakePort = NIOLockedValueBox(0)
        let shop = try await ShopServer.start(intakePort: intakePort, pages: ["/page": BrowserShop.page])
        let server = try await TestServer {
            $0.corsOrigins = [1: ["*"]]
            $0.numberPools = [1: try! NumberPool(.with {
                $0.dynamicNumbers = ["+74954440001", "+74954440002"]
                $0.fallbackNumber = "+74954440009"
            })]
        }
        intakePort.withLockedValue { $0 = server.ports.intake }
        let browser = try await WebDriver.start(arguments: ["--host-resolver-rules=\(hosts)"])
        return (shop, server, browser)
    }

    struct Seen: Equatable {
        let visitor: String, session: String, href: String, cookieDomain: String
    }

    static func open(_ browser: WebDriver, _ url: String) async throws -> Seen {
        try await browser.navigate(url)
        var href = ""
        try await eventually("the number replaced on \(url)", seconds: 20) {
            href = try await browser.execute("return document.querySelector('.phone').getAttribute('href')") as? String ?? ""
            return href.hasPrefix("tel:+749544400")
        }
        let values = try await browser.execute("return [Stitch.visitor, Stitch.session, Stitch.cookieDomain]") as? [String] ?? []
        return Seen(visitor: values[0], session: values[1], href: href, cookieDomain: values[2])
    }

    @Test("msk. then spb.: one visitor id, one session, one number, one visit credited to yandex/cpc", .timeLimit(.minutes(3)))
    func subdomains() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        let msk = try await Self.open(browser, "http://msk.shop.test:\(shop.port)/page?utm_source=yandex&utm_medium=cpc")
        let spb = try await Self.open(browser, "http://spb.shop.test:\(shop.port)/page")
        #expect(msk.cookieDomain == "shop.test")
        #expect(spb.visitor == msk.visitor && spb.session == msk.session && spb.href == msk.href)
        // The bare domain and www. share them too.
        let bare = try await Self.open(browser, "http://shop.test:\(shop.port)/page")
        let www = try await Self.open(browser, "http://www.shop.test:\(shop.port)/page")
        #expect(bare.visitor == msk.visitor && www.visitor == msk.visitor && www.session == msk.session)

        let query = try await server.queryClient()
        try await eventually("a form on spb. stored", seconds: 20) {
            let history = try await query.history(.with {
                $0.site = 1
                $0.person.identifier = Beacons.identifier(.cookie, msk.visitor)
            })
            return history.events.filter { if case .hit = $0.beacon.body { true } else { false } }.count >= 4
        }
        let visits = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, msk.visitor)
            $0.types = [.visit]
        })
        #expect(visits.events.count == 1, "one visit across the four hosts")
        #expect(visits.events.first?.beacon.visit.utmSource == "yandex")
        await query.close()
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("under a two-label public suffix the cookie lands on shop.co.uk, never co.uk", .timeLimit(.minutes(3)))
    func publicSuffix() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        let msk = try await Self.open(browser, "http://msk.shop.co.uk:\(shop.port)/page")
        #expect(msk.cookieDomain == "shop.co.uk")
        let www = try await Self.open(browser, "http://www.shop.co.uk:\(shop.port)/page")
        #expect(www.visitor == msk.visitor)
        shop.task.cancel()
        await server.stopAndRemove()
    }

    @Test("host-only ids of an earlier tracker carry over, and two hosts' ids are linked into one person", .timeLimit(.minutes(3)))
    func upgradeFromHostOnlyCookies() async throws {
        let (shop, server, browser) = try await Self.start()
        defer { browser.stop() }
        let msk = try await Self.open(browser, "http://msk.shop.test:\(shop.port)/page?head=old-cookie&old=old-host-id-msk")
        #expect(msk.visitor == "old-host-id-msk", "the earlier id is kept")
        let spb = try await Self.open(browser, "http://spb.shop.test:\(shop.port)/page?head=old-cookie&old=old-host-id-spb")
        #expect(spb.visitor == "old-host-id-msk", "the domain cookie wins")
        let cookies = try await browser.execute("return document.cookie") as? String ?? ""
        #expect(!cookies.contains("old-host-id-spb"), "the host-only cookie is deleted: \(cookies)")
        let query = try await server.queryClient()
        try await eventually("both ids in one person", seconds: 20) {
            let a = try await query.lookup(site: 1, kind: .cookie, value: "old-host-id-msk")
            let b = try await query.lookup(site: 1, kind: .cookie, value: "old-host-id-spb")
            return a.found && b.found && a.person.personID == b.person.personID
        }
        await query.close()
        shop.task.cancel()
        await server.stopAndRemove()
    }
}
