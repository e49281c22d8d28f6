/// Crawlers that run JavaScript, by user agent: the one table both the lease
/// endpoint and the tracker (served with it, `TrackerScript`) judge by. A
/// crawler's visits are stored, marked as bots, but it never takes a tracking
/// number: a crawl of a few hundred pages would hold a small pool for the
/// whole hold. Each row is a case-insensitive token of the user agent, from
/// the crawler's own documentation (`CrawlerRulesTests` holds a real user
/// agent per row).
///
/// Not listed: `HeadlessChrome` (Googlebot's renderer names itself
/// Googlebot; headless browsers are also how sites are tested and
/// monitored), so an anonymous headless scraper can still take a number.
enum CrawlerRules {
    struct Crawler {
        /// Lower-case token of the user agent.
        let token: String
        let who: String
    }

    static let crawlers: [Crawler] = [
        .init(token: "googlebot", who: "Google Search (desktop, smartphone, images, video, news)"),
        .init(token: "google-inspectiontool", who: "Google Search Console URL inspection"),
        .init(token: "googleother", who: "Google's other crawlers"),
        .init(token: "storebot-google", who: "Google Shopping"),
        .init(token: "adsbot-google", who: "Google Ads landing page checks"),
        .init(token: "mediapartners-google", who: "Google AdSense"),
        .init(token: "yandex.com/bots", who: "every Yandex robot (YandexBot, YandexRenderResourcesBot, YandexMetrika, …)"),
        .init(token: "yandexbot", who: "YandexBot"),
        .init(token: "bingbot", who: "Bing"),
        .init(token: "bingpreview", who: "Bing page previews"),
        .init(token: "adidxbot", who: "Microsoft Advertising landing page checks"),
        .init(token: "mail.ru_bot", who: "Mail.ru search"),
        .init(token: "duckduckbot", who: "DuckDuckGo"),
        .init(token: "baiduspider", who: "Baidu"),
        .init(token: "applebot", who: "Apple (Siri, Spotlight)"),
        .init(token: "petalbot", who: "Huawei Petal Search"),
        .init(token: "seznambot", who: "Seznam"),
        .init(token: "sogou", who: "Sogou"),
        .init(token: "slurp", who: "Yahoo"),
        .init(token: "facebookexternalhit", who: "Meta link previews"),
        .init(token: "meta-externalagent", who: "Meta crawler"),
        .init(token: "twitterbot", who: "X link previews"),
        .init(token: "telegrambot", who: "Telegram link previews"),
        .init(token: "vkshare", who: "VK link previews"),
        .init(token: "linkedinbot", who: "LinkedIn link previews"),
        .init(token: "ahrefsbot", who: "Ahrefs"),
        .init(token: "semrushbot", who: "Semrush"),
        .init(token: "mj12bot", who: "Majestic"),
        .init(token: "dotbot", who: "Moz"),
        .init(token: "bytespider", who: "ByteDance"),
        .init(token: "gptbot", who: "OpenAI"),
        .init(token: "claudebot", who: "Anthropic"),
        .init(token: "perplexitybot", who: "Perplexity"),
        .init(token: "ccbot", who: "Common Crawl"),
        .init(token: "chrome-lighthouse", who: "Lighthouse and PageSpeed Insights"),
    ]

    /// Whether `userAgent` is a listed crawler's.
    static func isCrawler(_ userAgent: String) -> Bool {
        let lowered = userAgent.lowercased()
        return crawlers.contains { lowered.contains($0.token) }
    }

    /// The table as a JavaScript regular expression's source, for the tracker
    /// (`/…/i`): the tokens, escaped, as alternatives.
    static var javaScriptPattern: String {
        crawlers.map { token in
            String(token.token.flatMap { character -> [Character] in
                ".+*?^$()[]{}|\\/-".contains(character) ? ["\\", character] : [character]
            })
        }.joined(separator: "|")
    }
}
