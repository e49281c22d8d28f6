import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import StitchClient
import StitchHooks
import StitchServer
import StitchWire
import Testing

/// The tracker in a real headless Chromium (Debian's chromium and
/// chromium-driver): a shop's pages on one origin, Stitch on another. Two
/// page views from an ad click, a replaced phone number, a form with a phone,
/// and a Jivo chat whose webhook carries the visitor id the tracker gave the
/// widget — then the query protocol must show one person with all of it.
@Suite("Browser tracker in Chromium")
struct BrowserTrackerTests {
    /// The shop's pages, served by a small Hummingbird app on its own port.
    static func page(_ title: String, intakePort: Int, body: String) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><title>\(title)</title>
        <script>
          document.cookie = "_ga=GA1.1.1234567890.1790000000; path=/";
          window.__jivoTokens = [];
          window.jivo_api = { setUserToken: function (token) { window.__jivoTokens.push(token); } };
        </script>
        <script async src="http://127.0.0.1:\(intakePort)/v1/stitch.js" data-site="1" data-number-selector=".phone"></script>
        </head><body>
        <p>Call us: <a class="phone" href="tel:+74950000001">+7 (495) 000-00-01</a></p>
        \(body)
        </body></html>
        """
    }

    /// Starts the shop; its pages load the tracker from `intakePort`.
    static func startShop(intakePort: NIOLockedValueBox<Int>) async throws -> ShopServer {
        let bodies: [String: (title: String, body: String)] = [
            "/landing": ("Sofas", #"<a id="next" href="/catalog">Catalog</a>"#),
            "/catalog": ("Catalog", """
                <form id="callback" action="/thanks" method="get">
                  <input name="name" value="Мария"><input type="tel" id="phone" name="phone">
                  <button type="submit">Call me back</button>
                </form>
                """),
        ]
        return try await ShopServer.start(intakePort: intakePort, pages: bodies.mapValues { content in
            { _, port in page(content.title, intakePort: port, body: content.body) }
        })
    }

    @Test("two page views, a replaced number, a form and a Jivo chat make one person", .timeLimit(.minutes(3)))
    func oneVisitorOnePerson() async throws {
        let intakePort = NIOLockedValueBox(0)
        let shop = try await Self.startShop(intakePort: intakePort)
        defer { shop.task.cancel() }
        let origin = shop.origin
        let server = try await TestServer {
            $0.corsOrigins = [1: [origin]]
            $0.numberPools = try! CallTrackingServerTests.pools()
            $0.webhooks = try! WebhookSettings.parse(#"{"1": {"jivo": {"token": "jivo-browser"}}}"#)
        }
        intakePort.withLockedValue { $0 = server.ports.intake }
        let browser = try await WebDriver.start()
        defer { browser.stop() }

        try await browser.navigate("\(origin)/landing?utm_source=yandex&utm_medium=cpc&utm_campaign=sofa_autumn")
        var shown = ""
        try await eventually("the phone number replaced by a leased one") {
            shown = try await browser.execute("return document.querySelector('.phone').textContent") as? String ?? ""
            return shown == "+7 (495) 100-00-01"
        }
        let visitor = try #require(try await browser.execute("return window.stitch && window.stitch.visitor") as? String)
        let jivoTokens = try await browser.execute("return window.__jivoTokens") as? [String] ?? []
        #expect(jivoTokens.contains(visitor), "the tracker gives Jivo its visitor id as the user token")

        try await browser.navigate("\(origin)/catalog")
        _ = try await browser.execute("""
            document.getElementById('phone').value = '8 (916) 555-01-02';
            document.getElementById('callback').requestSubmit();
            """)
        let chat = """
            {"event_name": "chat_accepted", "widget_id": "8812", "user_token": "\(visitor)", "chat_id": 9001,
             "visitor": {"name": "Мария", "email": "maria.petrova@mail.ru", "phone": "", "number": "555"}}
            """
        let hook = try await WebhookServerTests.post(server, "/v1/hooks/jivo/1?token=jivo-browser", chat)
        #expect(hook.status == 200)

        let query = try await server.queryClient()
        try await eventually("the form's phone stored", seconds: 20) {
            try await query.lookup(site: 1, kind: .phone, value: "+79165550102").found
        }
        let byCookie = try await query.lookup(site: 1, kind: .cookie, value: visitor, includeIdentifiers: true)
        let person = byCookie.person.personID
        for (kind, value, namespace) in [
            (Stitch_V1_IdentifierKind.phone, "+79165550102", ""), (.gaClientID, "1234567890.1790000000", ""),
            (.email, "maria.petrova@mail.ru", ""), (.chat, "555", "jivo"),
        ] {
            let found = try await query.lookup(site: 1, kind: kind, value: value, namespace: namespace)
            #expect(found.found && found.person.personID == person, "\(kind) \(value)")
        }
        let history = try await query.history(.with {
            $0.site = 1
            $0.person.identifier = Beacons.identifier(.cookie, visitor)
            $0.limit = 100
        })
        let bodies = history.events.map { event -> String in
            switch event.beacon.body {
            case .visit: "visit"
            case .hit: "hit"
            case .numberShown: "number_shown"
            case .form: "form"
            case .chat: "chat"
            default: "other"
            }
        }
        #expect(bodies.filter { $0 == "visit" }.count == 1, "\(bodies)")
        #expect(bodies.filter { $0 == "hit" }.count >= 2, "\(bodies)")
        #expect(bodies.contains("number_shown") && bodies.contains("form") && bodies.contains("chat"), "\(bodies)")
        let visit = history.events.first { if case .visit = $0.beacon.body { true } else { false } }
        #expect(visit?.beacon.visit.utmSource == "yandex" && visit?.beacon.visit.utmCampaign == "sofa_autumn")
        let shownEvent = history.events.first { if case .numberShown = $0.beacon.body { true } else { false } }
        #expect(shownEvent?.beacon.numberShown.trackingNumber.hasSuffix("4951000001") == true)
        await query.close()
        await server.stopAndRemove()
    }
}
