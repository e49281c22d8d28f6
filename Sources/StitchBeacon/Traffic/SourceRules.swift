import StitchWire

/// The rules that sort a visit into a source and a channel, as data: one
/// table per kind of evidence, each row with where its rule comes from
/// (docs/call-tracking.md, "Traffic sources" prints them; `SourceRulesTests` holds a case per
/// row). `SourceClassifier` applies them in order: utm tags, paid click ids,
/// the referrer, unpaid click markers, direct.
public enum SourceRules {
    /// A query parameter an ad network (or a platform) adds to the landing
    /// page's URL.
    public struct ClickID: Sendable {
        public let parameter: String
        public let source: String
        public let medium: String
        public let channel: Stitch_V1_Channel
        public let why: String
    }

    /// Click ids that mean a paid click: they win over the referrer (Google
    /// Ads' auto-tagged clicks arrive with google.com as referrer).
    public static let paidClickIDs: [ClickID] = [
        .init(parameter: "gclid", source: "google", medium: "cpc", channel: .paidSearch,
              why: "Google Ads auto-tagging (Google Ads Help: About auto-tagging)"),
        .init(parameter: "gbraid", source: "google", medium: "cpc", channel: .paidSearch,
              why: "Google Ads, iOS app-to-web clicks (Google Ads Help: gbraid)"),
        .init(parameter: "wbraid", source: "google", medium: "cpc", channel: .paidSearch,
              why: "Google Ads, iOS web-to-app clicks (Google Ads Help: wbraid)"),
        .init(parameter: "yclid", source: "yandex", medium: "cpc", channel: .paidSearch,
              why: "Yandex Direct click id, added when Metrica tracking is on (Yandex Direct Help: yclid)"),
        .init(parameter: "_openstat", source: "yandex", medium: "cpc", channel: .paidSearch,
              why: "Yandex Direct's OpenStat tagging (Yandex Direct Help: OpenStat tag)"),
        .init(parameter: "msclkid", source: "bing", medium: "cpc", channel: .paidSearch,
              why: "Microsoft Advertising auto-tagging (Microsoft Advertising Help: msclkid)"),
        .init(parameter: "rb_clickid", source: "vk", medium: "cpc", channel: .paidSocial,
              why: "VK Ads click id for its pixel (VK Ads Help: link markup, rb_clickid)"),
        .init(parameter: "ttclid", source: "tiktok", medium: "cpc", channel: .paidSocial,
              why: "TikTok Ads click id (TikTok Business Help: ttclid)"),
        .init(parameter: "twclid", source: "x", medium: "cpc", channel: .paidSocial,
              why: "X (Twitter) Ads click id (X Business: conversion tracking)"),
        .init(parameter: "li_fat_id", source: "linkedin", medium: "cpc", channel: .paidSocial,
              why: "LinkedIn Ads click id (LinkedIn Marketing: Insight Tag)"),
        .init(parameter: "dclid", source: "google", medium: "display", channel: .display,
              why: "Google Display & Video 360 / Campaign Manager click id"),
    ]

    /// Markers platforms add to every outbound link, paid or not: they say
    /// where the visit came from only when the referrer is gone (in-app
    /// browsers drop it), and never that it was paid.
    /// - `fbclid`: Meta adds it to organic links too, so it means Facebook
    ///   social, paid only when utm tags say so.
    /// - `ysclid`: Yandex adds it to links from its search results, ads and
    ///   organic alike; alone it means organic Yandex search (a Direct click
    ///   also carries `yclid`, which wins).
    public static let unpaidMarkers: [ClickID] = [
        .init(parameter: "fbclid", source: "facebook", medium: "social", channel: .social,
              why: "Meta adds fbclid to outbound links, organic posts included"),
        .init(parameter: "ysclid", source: "yandex", medium: "organic", channel: .organicSearch,
              why: "Yandex adds ysclid to links from its search results, organic included"),
    ]

    /// A referrer host rule: `domain` matches itself and its subdomains; a
    /// trailing `*` stands for any top-level domain of one or two labels
    /// (`google.*`: google.com, google.ru, google.com.tr, google.co.uk).
    /// The first matching row wins, so exceptions come first.
    public struct Referrer: Sendable {
        public let domain: String
        public let source: String
        public let medium: String
        public let channel: Stitch_V1_Channel
    }

    public static let referrers: [Referrer] = [
        // Webmail before its company's search engine.
        .init(domain: "mail.yandex.*", source: "yandex_mail", medium: "email", channel: .email),
        .init(domain: "mail.google.com", source: "gmail", medium: "email", channel: .email),
        .init(domain: "e.mail.ru", source: "mail.ru", medium: "email", channel: .email),
        .init(domain: "mail.rambler.ru", source: "rambler_mail", medium: "email", channel: .email),
        .init(domain: "outlook.live.com", source: "outlook", medium: "email", channel: .email),
        .init(domain: "mail.yahoo.com", source: "yahoo_mail", medium: "email", channel: .email),
        // Yandex's other services before Yandex search.
        .init(domain: "zen.yandex.*", source: "dzen", medium: "social", channel: .social),
        .init(domain: "market.yandex.*", source: "yandex_market", medium: "referral", channel: .referral),
        // Search engines.
        .init(domain: "yandex.*", source: "yandex", medium: "organic", channel: .organicSearch),
        .init(domain: "ya.ru", source: "yandex", medium: "organic", channel: .organicSearch),
        .init(domain: "google.*", source: "google", medium: "organic", channel: .organicSearch),
        .init(domain: "bing.com", source: "bing", medium: "organic", channel: .organicSearch),
        .init(domain: "go.mail.ru", source: "mail.ru", medium: "organic", channel: .organicSearch),
        .init(domain: "search.mail.ru", source: "mail.ru", medium: "organic", channel: .organicSearch),
        .init(domain: "duckduckgo.com", source: "duckduckgo", medium: "organic", channel: .organicSearch),
        .init(domain: "nova.rambler.ru", source: "rambler", medium: "organic", channel: .organicSearch),
        .init(domain: "search.yahoo.com", source: "yahoo", medium: "organic", channel: .organicSearch),
        .init(domain: "ecosia.org", source: "ecosia", medium: "organic", channel: .organicSearch),
        .init(domain: "baidu.com", source: "baidu", medium: "organic", channel: .organicSearch),
        .init(domain: "search.brave.com", source: "brave", medium: "organic", channel: .organicSearch),
        .init(domain: "startpage.com", source: "startpage", medium: "organic", channel: .organicSearch),
        // Messengers.
        .init(domain: "t.me", source: "telegram", medium: "messenger", channel: .messenger),
        .init(domain: "telegram.org", source: "telegram", medium: "messenger", channel: .messenger),
        .init(domain: "whatsapp.com", source: "whatsapp", medium: "messenger", channel: .messenger),
        .init(domain: "wa.me", source: "whatsapp", medium: "messenger", channel: .messenger),
        .init(domain: "viber.com", source: "viber", medium: "messenger", channel: .messenger),
        .init(domain: "max.ru", source: "max", medium: "messenger", channel: .messenger),
        // Social networks.
        .init(domain: "vk.com", source: "vk", medium: "social", channel: .social),
        .init(domain: "vk.ru", source: "vk", medium: "social", channel: .social),
        .init(domain: "ok.ru", source: "ok", medium: "social", channel: .social),
        .init(domain: "dzen.ru", source: "dzen", medium: "social", channel: .social),
        .init(domain: "youtube.com", source: "youtube", medium: "social", channel: .social),
        .init(domain: "youtu.be", source: "youtube", medium: "social", channel: .social),
        .init(domain: "rutube.ru", source: "rutube", medium: "social", channel: .social),
        .init(domain: "facebook.com", source: "facebook", medium: "social", channel: .social),
        .init(domain: "instagram.com", source: "instagram", medium: "social", channel: .social),
        .init(domain: "twitter.com", source: "x", medium: "social", channel: .social),
        .init(domain: "x.com", source: "x", medium: "social", channel: .social),
        .init(domain: "t.co", source: "x", medium: "social", channel: .social),
        .init(domain: "linkedin.com", source: "linkedin", medium: "social", channel: .social),
        .init(domain: "pinterest.*", source: "pinterest", medium: "social", channel: .social),
        .init(domain: "tiktok.com", source: "tiktok", medium: "social", channel: .social),
        .init(domain: "reddit.com", source: "reddit", medium: "social", channel: .social),
        .init(domain: "pikabu.ru", source: "pikabu", medium: "social", channel: .social),
        .init(domain: "livejournal.com", source: "livejournal", medium: "social", channel: .social),
    ]

    /// Payment gateways and banks' 3-D Secure pages: a visitor coming back
    /// from paying is not a new touch (their visit continues the last
    /// source). Sites add their own (`referral_exclusions`).
    public static let excludedReferrers: [String] = [
        "yoomoney.ru", "yookassa.ru", "money.yandex.ru", "cloudpayments.ru", "cloudpayments.kz", "robokassa.ru",
        "robokassa.com", "tinkoff.ru", "tbank.ru", "sberbank.ru", "sber.ru", "alfabank.ru", "vtb.ru",
        "gazprombank.ru", "raiffeisen.ru", "mirconnect.ru", "nspk.ru", "qiwi.com", "payu.ru", "paymaster.ru",
        "unitpay.ru", "payanyway.ru", "paykeeper.ru", "paypal.com", "stripe.com", "pay.google.com",
    ]

    /// `utm_medium` (lower-cased, trimmed) → channel. Paid media are paid
    /// search, or paid social when `utm_source` names a social network.
    public static let paidMedia: Set<String> = [
        "cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "cpa", "cpm_search", "paid_social",
        "paid-social", "paidsocial", "cpv_social",
    ]
    public static let media: [String: Stitch_V1_Channel] = [
        "organic": .organicSearch, "seo": .organicSearch,
        "social": .social, "social-network": .social, "social_network": .social, "social-media": .social,
        "social_media": .social, "sm": .social, "smm": .social, "post": .social,
        "referral": .referral, "ref": .referral, "link": .referral, "affiliate": .referral, "partner": .referral,
        "email": .email, "e-mail": .email, "e_mail": .email, "mail": .email, "newsletter": .email,
        "mailing": .email, "rassylka": .email,
        "messenger": .messenger, "telegram": .messenger, "whatsapp": .messenger, "viber": .messenger,
        "push": .messenger, "sms": .messenger,
        "cpm": .display, "display": .display, "banner": .display, "video": .display, "cpv": .display,
        "media": .display, "programmatic": .display,
        "offline": .offline, "print": .offline, "outdoor": .offline, "billboard": .offline, "tv": .offline,
        "radio": .offline, "qr": .offline,
        "internal": .internal,
    ]

    /// `utm_source` names of social networks and their ad platforms: their
    /// paid media are paid social, and tags without a medium are social.
    public static let socialSources: Set<String> = [
        "vk", "vkontakte", "vk_ads", "vkads", "mytarget", "ok", "odnoklassniki", "dzen", "zen", "facebook", "fb",
        "instagram", "ig", "meta", "tiktok", "telegram", "telegram_ads", "tg", "youtube", "x", "twitter",
        "linkedin", "pinterest", "rutube",
    ]
}
