@testable import StitchBeacon
import StitchWire
import Testing

/// Traffic sources as analysts classify them (`SourceRules`): a case per
/// rule row, a table of referrers and landing pages, and the journey of the
/// issue — paid Google, organic Yandex, paid Yandex, back from the bank.
@Suite("Traffic sources and channels")
struct SourceRulesTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let referrer: String
        let landing: String
        let utm: (source: String, medium: String)
        /// nil: no new touch (internal, or a payment page).
        let expected: (source: String, medium: String, channel: Stitch_V1_Channel)?

        init(_ name: String, referrer: String = "", landing: String = "https://shop.example/", utm: (String, String) = ("", ""),
             _ expected: (String, String, Stitch_V1_Channel)?) {
            self.name = name
            self.referrer = referrer
            self.landing = landing
            self.utm = utm
            self.expected = expected
        }

        var description: String { name }

        var visit: Stitch_V1_Visit {
            .with {
                $0.referrer = referrer
                $0.landingURL = landing
                $0.utmSource = utm.source
                $0.utmMedium = utm.medium
            }
        }
    }

    static let cases: [Case] = [
        // utm tags win, lower-cased and trimmed
        Case("utm yandex cpc", utm: ("Yandex ", " CPC"), ("yandex", "cpc", .paidSearch)),
        Case("utm google ppc beats a referrer", referrer: "https://www.google.com/", utm: ("google", "ppc"), ("google", "ppc", .paidSearch)),
        Case("utm paid", utm: ("bing", "paid"), ("bing", "paid", .paidSearch)),
        Case("utm vk cpc is paid social", utm: ("vk", "cpc"), ("vk", "cpc", .paidSocial)),
        Case("utm mytarget cpm is display", utm: ("mytarget", "cpm"), ("mytarget", "cpm", .display)),
        Case("utm telegram ads cpc", utm: ("telegram", "cpc"), ("telegram", "cpc", .paidSocial)),
        Case("utm paid_social", utm: ("facebook", "paid_social"), ("facebook", "paid_social", .paidSocial)),
        Case("utm newsletter", utm: ("sendsay", "email"), ("sendsay", "email", .email)),
        Case("utm e-mail spelling", utm: ("unisender", "E-mail"), ("unisender", "e-mail", .email)),
        Case("utm social", utm: ("vk", "social"), ("vk", "social", .social)),
        Case("utm social source without medium", utm: ("ok", ""), ("ok", "", .social)),
        Case("utm messenger", utm: ("whatsapp", "messenger"), ("whatsapp", "messenger", .messenger)),
        Case("utm organic", utm: ("yandex", "organic"), ("yandex", "organic", .organicSearch)),
        Case("utm referral", utm: ("partner-blog", "referral"), ("partner-blog", "referral", .referral)),
        Case("utm banner", utm: ("adfox", "banner"), ("adfox", "banner", .display)),
        Case("utm offline qr", utm: ("flyer", "qr"), ("flyer", "qr", .offline)),
        Case("utm unknown medium", utm: ("partner", "barter"), ("partner", "barter", .other)),
        // paid click ids without tags, even with the network's referrer
        Case("gclid from google.com", referrer: "https://www.google.com/", landing: "https://shop.example/?gclid=Cj0KCQ", ("google", "cpc", .paidSearch)),
        Case("gbraid", landing: "https://shop.example/?gbraid=0AAAAA", ("google", "cpc", .paidSearch)),
        Case("wbraid", landing: "https://shop.example/p?x=1&wbraid=Cl0KCQ", ("google", "cpc", .paidSearch)),
        Case("yclid from yandex.ru", referrer: "https://yandex.ru/", landing: "https://shop.example/?yclid=123456", ("yandex", "cpc", .paidSearch)),
        Case("_openstat", landing: "https://shop.example/?_openstat=ZGlyZWN0", ("yandex", "cpc", .paidSearch)),
        Case("msclkid", referrer: "https://www.bing.com/", landing: "https://shop.example/?msclkid=abc", ("bing", "cpc", .paidSearch)),
        Case("rb_clickid (VK Ads)", referrer: "https://vk.com/", landing: "https://shop.example/?rb_clickid=42", ("vk", "cpc", .paidSocial)),
        Case("ttclid", landing: "https://shop.example/?ttclid=E.C.P", ("tiktok", "cpc", .paidSocial)),
        Case("twclid", landing: "https://shop.example/?twclid=2-abc", ("x", "cpc", .paidSocial)),
        Case("li_fat_id", landing: "https://shop.example/?li_fat_id=abc", ("linkedin", "cpc", .paidSocial)),
        Case("dclid", landing: "https://shop.example/?dclid=CJ", ("google", "display", .display)),
        Case("an empty gclid is no click", landing: "https://shop.example/?gclid=", ("", "", .direct)),
        // search engines
        Case("yandex.ru", referrer: "https://yandex.ru/search/?text=sofa", ("yandex", "organic", .organicSearch)),
        Case("yandex.com.tr", referrer: "https://yandex.com.tr/", ("yandex", "organic", .organicSearch)),
        Case("yandex.kz", referrer: "https://yandex.kz/", ("yandex", "organic", .organicSearch)),
        Case("ya.ru", referrer: "https://ya.ru/", ("yandex", "organic", .organicSearch)),
        Case("google.ru", referrer: "https://www.google.ru/", ("google", "organic", .organicSearch)),
        Case("google.co.uk", referrer: "https://www.google.co.uk/", ("google", "organic", .organicSearch)),
        Case("google.com.tr", referrer: "https://google.com.tr/", ("google", "organic", .organicSearch)),
        Case("bing", referrer: "https://www.bing.com/search?q=x", ("bing", "organic", .organicSearch)),
        Case("go.mail.ru", referrer: "https://go.mail.ru/search?q=x", ("mail.ru", "organic", .organicSearch)),
        Case("duckduckgo", referrer: "https://duckduckgo.com/", ("duckduckgo", "organic", .organicSearch)),
        Case("rambler search", referrer: "https://nova.rambler.ru/search", ("rambler", "organic", .organicSearch)),
        Case("yahoo search", referrer: "https://search.yahoo.com/", ("yahoo", "organic", .organicSearch)),
        Case("ecosia", referrer: "https://www.ecosia.org/", ("ecosia", "organic", .organicSearch)),
        Case("ysclid alone", landing: "https://shop.example/?ysclid=lq1w2e3", ("yandex", "organic", .organicSearch)),
        // webmail, Yandex services
        Case("yandex mail", referrer: "https://mail.yandex.ru/", ("yandex_mail", "email", .email)),
        Case("gmail", referrer: "https://mail.google.com/", ("gmail", "email", .email)),
        Case("mail.ru webmail", referrer: "https://e.mail.ru/inbox", ("mail.ru", "email", .email)),
        Case("dzen on yandex", referrer: "https://zen.yandex.ru/", ("dzen", "social", .social)),
        Case("yandex market", referrer: "https://market.yandex.ru/product/1", ("yandex_market", "referral", .referral)),
        // social and messengers
        Case("vk", referrer: "https://vk.com/wall-1", ("vk", "social", .social)),
        Case("m.vk.com", referrer: "https://m.vk.com/", ("vk", "social", .social)),
        Case("ok.ru", referrer: "https://ok.ru/group/1", ("ok", "social", .social)),
        Case("dzen.ru", referrer: "https://dzen.ru/a/xyz", ("dzen", "social", .social)),
        Case("youtube", referrer: "https://www.youtube.com/", ("youtube", "social", .social)),
        Case("facebook l.", referrer: "https://l.facebook.com/", ("facebook", "social", .social)),
        Case("instagram", referrer: "https://l.instagram.com/", ("instagram", "social", .social)),
        Case("t.co", referrer: "https://t.co/abc", ("x", "social", .social)),
        Case("fbclid without referrer is social", landing: "https://shop.example/?fbclid=IwAR", ("facebook", "social", .social)),
        Case("telegram", referrer: "https://t.me/channel/1", ("telegram", "messenger", .messenger)),
        Case("web telegram", referrer: "https://web.telegram.org/", ("telegram", "messenger", .messenger)),
        Case("whatsapp", referrer: "https://web.whatsapp.com/", ("whatsapp", "messenger", .messenger)),
        Case("max", referrer: "https://web.max.ru/", ("max", "messenger", .messenger)),
        Case("vk.ru", referrer: "https://vk.ru/", ("vk", "social", .social)),
        Case("youtu.be", referrer: "https://youtu.be/x", ("youtube", "social", .social)),
        Case("rutube", referrer: "https://rutube.ru/video/1", ("rutube", "social", .social)),
        Case("twitter.com", referrer: "https://twitter.com/", ("x", "social", .social)),
        Case("x.com", referrer: "https://x.com/", ("x", "social", .social)),
        Case("linkedin", referrer: "https://www.linkedin.com/", ("linkedin", "social", .social)),
        Case("pinterest.ru", referrer: "https://ru.pinterest.ru/", ("pinterest", "social", .social)),
        Case("tiktok", referrer: "https://www.tiktok.com/", ("tiktok", "social", .social)),
        Case("reddit", referrer: "https://old.reddit.com/", ("reddit", "social", .social)),
        Case("pikabu", referrer: "https://pikabu.ru/story/1", ("pikabu", "social", .social)),
        Case("livejournal", referrer: "https://user.livejournal.com/1.html", ("livejournal", "social", .social)),
        Case("wa.me", referrer: "https://wa.me/79160000000", ("whatsapp", "messenger", .messenger)),
        Case("viber", referrer: "https://invite.viber.com/", ("viber", "messenger", .messenger)),
        Case("search.mail.ru", referrer: "https://search.mail.ru/", ("mail.ru", "organic", .organicSearch)),
        Case("baidu", referrer: "https://www.baidu.com/", ("baidu", "organic", .organicSearch)),
        Case("brave search", referrer: "https://search.brave.com/", ("brave", "organic", .organicSearch)),
        Case("startpage", referrer: "https://www.startpage.com/", ("startpage", "organic", .organicSearch)),
        Case("outlook", referrer: "https://outlook.live.com/mail/", ("outlook", "email", .email)),
        Case("rambler mail", referrer: "https://mail.rambler.ru/", ("rambler_mail", "email", .email)),
        Case("yahoo mail", referrer: "https://mail.yahoo.com/", ("yahoo_mail", "email", .email)),
        // referrals, internal, excluded
        Case("a news site", referrer: "https://www.News.example/article?id=1", ("news.example", "referral", .referral)),
        Case("google lookalike is a referral", referrer: "https://google.example.org/", ("google.example.org", "referral", .referral)),
        Case("the shop's own page", referrer: "https://www.shop.example/cart", landing: "https://shop.example/landing", nil),
        Case("the shop's subdomain", referrer: "https://msk.shop.example/", landing: "https://spb.shop.example/", nil),
        Case("shop on com.ru", referrer: "https://m.shop.com.ru/", landing: "https://shop.com.ru/", nil),
        Case("another shop on com.ru", referrer: "https://other.com.ru/", landing: "https://shop.com.ru/", ("other.com.ru", "referral", .referral)),
        Case("sber 3-D Secure", referrer: "https://3ds.sberbank.ru/acs", nil),
        Case("tinkoff acquiring", referrer: "https://securepay.tinkoff.ru/", nil),
        Case("t-bank", referrer: "https://pay.tbank.ru/", nil),
        Case("yoomoney", referrer: "https://yoomoney.ru/checkout/payments", nil),
        Case("yookassa", referrer: "https://yookassa.ru/", nil),
        Case("cloudpayments", referrer: "https://widget.cloudpayments.ru/", nil),
        Case("robokassa", referrer: "https://auth.robokassa.ru/Merchant/Index.aspx", nil),
        Case("paypal", referrer: "https://www.paypal.com/checkoutnow", nil),
        Case("mir 3-D Secure", referrer: "https://ds1.mirconnect.ru/", nil),
        Case("direct", ("", "", .direct)),
    ]

    @Test(arguments: cases)
    func classifies(_ testCase: Case) {
        let source = SourceClassifier().source(of: testCase.visit)
        guard let expected = testCase.expected else {
            #expect(source == nil, "\(testCase.name): \(String(describing: source))")
            return
        }
        #expect(source?.source == expected.source && source?.medium == expected.medium && source?.channel == expected.channel,
                "\(testCase.name): \(String(describing: source))")
    }

    @Test("every rule row has a case; the table has at least 40 cases")
    func everyRowTested() {
        #expect(Self.cases.count >= 40)
        let referrers = Self.cases.map(\.referrer)
        let landings = Self.cases.map(\.landing)
        for click in SourceRules.paidClickIDs + SourceRules.unpaidMarkers {
            #expect(landings.contains { $0.contains(click.parameter + "=") }, "no case for \(click.parameter)")
        }
        for rule in SourceRules.referrers {
            let stem = rule.domain.hasSuffix(".*") ? String(rule.domain.dropLast(2)) : rule.domain
            #expect(referrers.contains { SourceClassifier.host(of: $0)?.contains(stem) == true }, "no case for \(rule.domain)")
        }
    }

    @Test("a site's own domains are internal, and its exclusions are no new touch")
    func siteSettings() {
        let classifier = SourceClassifier(siteDomains: ["shop-pay.example"], extraExclusions: ["bnpl.example"])
        #expect(classifier.source(of: .with {
            $0.referrer = "https://checkout.shop-pay.example/"
            $0.landingURL = "https://shop.example/"
        }) == nil)
        #expect(classifier.source(of: .with {
            $0.referrer = "https://pay.bnpl.example/"
            $0.landingURL = "https://shop.example/"
        }) == nil)
        #expect(SourceClassifier().source(of: .with {
            $0.referrer = "https://pay.bnpl.example/"
            $0.landingURL = "https://shop.example/"
        })?.channel == .referral)
    }

    static func visit(_ seq: UInt64, at time: Int64, referrer: String = "", landing: String) -> Stitch_V1_Event {
        .with {
            $0.seq = seq
            $0.beacon.timeMs = time
            $0.beacon.visit = .with {
                $0.referrer = referrer
                $0.landingURL = landing
            }
        }
    }

    @Test("paid Google, organic Yandex, paid Yandex, back from the bank, an order: last non-direct credits Yandex Direct, never the bank")
    func journey() {
        let day: Int64 = 86_400_000, t0: Int64 = 1_780_000_000_000
        let events = [
            Self.visit(1, at: t0, referrer: "https://www.google.com/", landing: "https://shop.example/sofa?gclid=Cj0KCQiA"),
            Self.visit(2, at: t0 + day, referrer: "https://yandex.ru/search/?text=sofa", landing: "https://shop.example/sofa"),
            Self.visit(3, at: t0 + 2 * day, referrer: "https://yandex.ru/", landing: "https://shop.example/sofa?yclid=5512"),
            Self.visit(4, at: t0 + 2 * day + 600_000, referrer: "https://3ds.sberbank.ru/acs/pareq", landing: "https://shop.example/order/ok"),
        ]
        var form = Stitch_V1_Event.with {
            $0.seq = 5
            $0.beacon.timeMs = t0 + 2 * day + 660_000
            $0.beacon.form = .with { $0.phone = "+79160000000" }
        }
        var page = [form]
        Attribution.annotate(&page, context: events + [form], options: ConversionOptions(model: .lastNonDirect))
        form = page[0]
        #expect(form.conversion.credits.count == 1)
        let credit = form.conversion.credits.first
        #expect(credit?.source.source == "yandex" && credit?.source.medium == "cpc" && credit?.source.channel == .paidSearch)
        #expect(credit?.source.kind == .clickID && credit?.visitSeq == 3)
        // Linear: three touches, the bank's return is none of them.
        page = [form]
        Attribution.annotate(&page, context: events + [form], options: ConversionOptions(model: .linear))
        let channels = page[0].conversion.credits.map(\.source.channel)
        #expect(Set(channels) == [.paidSearch, .organicSearch], "\(page[0].conversion.credits)")
        #expect(page[0].conversion.credits.count == 3)
        #expect(!page[0].conversion.credits.contains { $0.source.source.contains("sberbank") })
    }
}
