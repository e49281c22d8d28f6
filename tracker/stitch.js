/*
 * Stitch browser tracker. Plain modern JavaScript, no build step.
 *
 *   <script async src="https://stitch.example/v1/stitch.js" data-site="7"
 *           data-numbers="+7 495 000-00-00" data-number-selector=".phone"></script>
 *
 * Options (data- attributes of the script tag):
 *   data-site              the site's number (required)
 *   data-numbers           the site's own phones to replace with its tracking
 *                          number, comma-separated, in any writing: found in
 *                          text and tel: links, also when they appear later
 *   data-number-selector   elements whose whole text is the phone
 *   data-consent="required"  nothing (no cookie, no beacon, no number) until
 *                          the page calls Stitch.consent(true)
 *   data-cookie-domain     where the cookies live (default: the registrable
 *                          domain, found by trying, so subdomains share them)
 *   data-endpoint          the Stitch server (default: where this came from)
 *
 * Sends beacons (proto/beacon.proto) in frames (proto/FRAMING.md) to the
 * server it was loaded from: POST /v1/beacon with a CORS-safelisted content
 * type, so no preflight; `navigator.sendBeacon` when the page hides. What it
 * sends: a `visit` at session start (UTM, referrer, landing page, click ids,
 * device), a `hit` per page view (history navigation too), a `form` on submit
 * with the phone and e-mail fields it finds, and a `number_shown` when it
 * replaces the site's phone with a leased tracking number. Identifiers: its
 * first-party visitor cookie, the session, Google's `_ga` and Yandex's
 * `_ym_uid`. Chat bridge: Jivo gets the visitor id as its user token, so
 * Jivo's webhooks carry it.
 */
(function (root) {
  "use strict";

  // ---- Wire: protobuf by hand (the schema is small), frames, CRC-32 ----

  const KIND = { cookie: 1, session: 2, ga: 3, ym: 4, phone: 5, email: 6 };
  const DEVICE = { desktop: 1, mobile: 2, tablet: 3, bot: 4 };
  const CLOCK_DEVICE = 2;  // ProducerClock: the browser's clock may be off by hours
  const utf8 = new TextEncoder();

  function varint(out, value) {
    let v = BigInt(value);
    while (v > 0x7fn) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n; }
    out.push(Number(v));
  }
  function tag(out, field, wire) { varint(out, (field << 3) | wire); }
  function uint(out, field, value) { if (value) { tag(out, field, 0); varint(out, value); } }
  function bytes(out, field, data) { tag(out, field, 2); varint(out, data.length); for (const b of data) out.push(b); }
  function string(out, field, text) { if (text) bytes(out, field, utf8.encode(String(text).slice(0, 2048))); }
  function message(out, field, build) { const inner = []; build(inner); bytes(out, field, inner); }

  // Body field numbers of Beacon (the `body` oneof) and how each is written.
  const BODIES = {
    visit: [10, (o, v) => {
      string(o, 1, v.utmSource); string(o, 2, v.utmMedium); string(o, 3, v.utmCampaign);
      string(o, 4, v.utmContent); string(o, 5, v.utmTerm); string(o, 6, v.referrer);
      string(o, 7, v.landingUrl); string(o, 8, v.gclid); string(o, 9, v.yclid);
      string(o, 10, v.fbclid); uint(o, 11, v.device);
    }],
    hit: [11, (o, v) => { uint(o, 1, 1); string(o, 2, v.url); }],
    numberShown: [12, (o, v) => { string(o, 1, v.trackingNumber); }],
    form: [13, (o, v) => {
      string(o, 1, v.formId); string(o, 2, v.pageUrl); string(o, 3, v.phone);
      string(o, 4, v.email); string(o, 5, v.name);
    }],
  };

  /**
   * A BeaconBatch: beacons are {site, timeMs, eventId, identifiers: [[kind, value]], type, body}.
   * `sentMs` is when it is sent, by the same clock as the beacons' times: the
   * server then re-bases every time on its own clock (FRAMING.md, "Event times").
   */
  function encodeBatch(beacons, sentMs) {
    const out = [];
    for (const beacon of beacons) {
      message(out, 1, (b) => {
        uint(b, 1, beacon.site);
        uint(b, 2, beacon.timeMs);
        for (const [kind, value] of beacon.identifiers) {
          message(b, 3, (i) => { uint(i, 1, kind); string(i, 2, value); });
        }
        uint(b, 4, beacon.eventId);
        const [field, write] = BODIES[beacon.type];
        message(b, field, (m) => write(m, beacon.body));
      });
    }
    if (sentMs) { uint(out, 2, sentMs); uint(out, 3, CLOCK_DEVICE); }
    return new Uint8Array(out);
  }

  const CRC_TABLE = (() => {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  function crc32(data) {
    let c = 0xffffffff;
    for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  /** A BATCH frame: the 28-byte header of FRAMING.md, then the payload. */
  function frame(payload, sequence, rawLength) {
    const out = new Uint8Array(28 + payload.length);
    const view = new DataView(out.buffer);
    out[0] = 0x53; out[1] = 0x54; out[2] = 1; out[3] = 1;
    out[4] = rawLength === payload.length ? 0 : 1;
    view.setBigUint64(8, BigInt(sequence));
    view.setUint32(16, payload.length);
    view.setUint32(20, rawLength);
    view.setUint32(24, crc32(payload));
    out.set(payload, 28);
    return out;
  }

  /** Deflates (zlib, RFC 1950) where the browser can; plain otherwise. */
  async function deflate(data) {
    if (typeof CompressionStream !== "function") return data;
    const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  /** A 64-bit random event id, so a resent beacon is stored once. */
  function eventId() {
    const words = crypto.getRandomValues(new Uint32Array(2));
    return ((BigInt(words[0]) << 32n) | BigInt(words[1])) || 1n;
  }

  const wire = { encodeBatch, frame, crc32, deflate, eventId, KIND, DEVICE };
  if (typeof module === "object" && module.exports) module.exports = wire;
  if (typeof document === "undefined") return;

  // ---- Browser ----

  const script = document.currentScript;
  const site = Number(script && script.dataset.site);
  if (!site) { console.warn("stitch.js: data-site is required"); return; }
  const endpoint = (script.dataset.endpoint || new URL(script.src).origin).replace(/\/$/, "");
  const numberSelector = script.dataset.numberSelector || "";
  const consentRequired = script.dataset.consent === "required";
  const SESSION_IDLE_MS = 30 * 60 * 1000;
  const BATCH_MAX = 20, FLUSH_MS = 1000, RETRY_KEY = "_stitch_retry", RETRY_MAX = 50, SHOWN_KEY = "_stitch_shown";
  const VISITOR = "_stitch_vid", SESSION = "_stitch_s", OLD_VISITOR = "_stitch_id", OLD_SESSION = "_stitch_sid";
  // Crawlers that render JavaScript (Googlebot, YandexBot, …): the server's
  // table (CrawlerRules), put here when the script is served. They are
  // tracked as bots but never take a tracking number.
  const CRAWLER = /__CRAWLERS__/i;
  const crawler = CRAWLER.test(navigator.userAgent);

  // ---- Cookies on the site's registrable domain ----

  function readCookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  /** The highest domain the browser accepts a cookie on: the registrable
   *  domain (browsers refuse public suffixes like co.uk), no list shipped. */
  function findCookieDomain() {
    if (script.dataset.cookieDomain) return script.dataset.cookieDomain;
    const host = location.hostname, labels = host.split(".");
    if (labels.length < 2 || /^[\d.]+$/.test(host) || host.includes(":")) return "";
    for (let i = labels.length - 2; i >= 0; i--) {
      const candidate = labels.slice(i).join(".");
      document.cookie = `_stitch_probe=1; domain=${candidate}; path=/; SameSite=Lax`;
      if (readCookie("_stitch_probe") === "1") {
        document.cookie = `_stitch_probe=; domain=${candidate}; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
        return candidate;
      }
    }
    return "";
  }
  let cookieDomain = "";
  function writeCookie(name, value, days) {
    const expires = new Date(Date.now() + days * 864e5).toUTCString();
    const domain = cookieDomain ? `; domain=${cookieDomain}` : "";
    document.cookie = `${name}=${encodeURIComponent(value)}; expires=${expires}; path=/${domain}; SameSite=Lax`;
  }
  function deleteCookie(name, domain) {
    document.cookie = `${name}=; path=/${domain ? "; domain=" + domain : ""}; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  }
  function randomId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The visitor (2 years) and the session ("id.lastActivityMs.campaign",
  // 30 minutes idle or a new campaign): set in start(), after consent.
  let visitor = "", session = "", sessionCampaign = "", fresh = false, previousVisitor = "";
  const query = new URLSearchParams(location.search);
  const campaign = ["utm_source", "utm_medium", "utm_campaign", "gclid", "yclid"].map((k) => query.get(k) || "").join("|");
  const hasCampaign = campaign.replace(/\|/g, "") !== "";

  function setUpIdentity() {
    cookieDomain = findCookieDomain();
    // An earlier version kept host-only cookies: carry them over, and link
    // a different host's id to this one (both go in the next beacons).
    const old = readCookie(OLD_VISITOR);
    visitor = readCookie(VISITOR) || old || randomId();
    if (old && old !== visitor) previousVisitor = old;
    if (old) deleteCookie(OLD_VISITOR, "");
    writeCookie(VISITOR, visitor, 730);
    const [storedSession, lastMs, storedCampaign] = (readCookie(SESSION) || readCookie(OLD_SESSION)).split(".");
    deleteCookie(OLD_SESSION, "");
    fresh = !storedSession || Date.now() - Number(lastMs) > SESSION_IDLE_MS ||
      (hasCampaign && campaign !== decodeURIComponent(storedCampaign || ""));
    session = fresh ? randomId() : storedSession;
    sessionCampaign = hasCampaign ? campaign : storedCampaign ? decodeURIComponent(storedCampaign) : "";
    touchSession();
  }
  function touchSession() {
    writeCookie(SESSION, `${session}.${Date.now()}.${encodeURIComponent(sessionCampaign)}`, 1);
  }

  function identifiers() {
    const ids = [[KIND.cookie, visitor], [KIND.session, session]];
    if (previousVisitor) ids.push([KIND.cookie, previousVisitor]);
    const ga = readCookie("_ga"), ym = readCookie("_ym_uid");
    if (ga) ids.push([KIND.ga, ga]);
    if (ym) ids.push([KIND.ym, ym]);
    return ids;
  }

  function device() {
    const ua = navigator.userAgent;
    if (crawler || /bot|crawl|spider|headless/i.test(ua)) return DEVICE.bot;
    if (/iPad|Tablet/i.test(ua)) return DEVICE.tablet;
    return /Mobi|Android/i.test(ua) ? DEVICE.mobile : DEVICE.desktop;
  }

  // ---- Sending: a queue flushed by size, by timer and when the page hides ----

  let queue = [];
  let sequence = Date.now();
  let timer = 0;

  function track(type, body) {
    if (!started) return;
    queue.push({ site, timeMs: Date.now(), eventId: eventId(), identifiers: identifiers(), type, body });
    touchSession();
    if (queue.length >= BATCH_MAX) flush(false);
    else if (!timer) timer = setTimeout(() => flush(false), FLUSH_MS);
  }

  function keepForRetry(beacons) {
    try {
      const kept = JSON.parse(localStorage.getItem(RETRY_KEY) || "[]").concat(
        beacons.map((b) => Object.assign({}, b, { eventId: String(b.eventId) })));
      localStorage.setItem(RETRY_KEY, JSON.stringify(kept.slice(-RETRY_MAX)));
    } catch (_) { /* storage full or blocked: the beacons are lost */ }
  }

  // Batches taken for a compressed send that has not reached `fetch` yet: a
  // page that starts leaving meanwhile sends them with its own beacons.
  const compressing = new Set();
  // Sends not answered yet: a lease request waits for them (see getLease).
  const sending = new Set();

  /** Sends what is queued; resolves once the server answered (or failed). */
  async function flush(leaving) {
    clearTimeout(timer);
    timer = 0;
    const beacons = leaving ? [...compressing].flat().concat(queue) : queue;
    queue = [];
    if (leaving) compressing.clear();
    if (!beacons.length) return;
    // Stamped now, also for beacons kept from an earlier page: the server
    // places each one at (its arrival − how long before sending it happened).
    const raw = encodeBatch(beacons, Date.now());
    const url = endpoint + "/v1/beacon";
    if (leaving) {
      // No time for compression: the page is going away.
      const body = new Blob([frame(raw, ++sequence, raw.length)], { type: "text/plain" });
      if (!navigator.sendBeacon || !navigator.sendBeacon(url, body)) keepForRetry(beacons);
      return;
    }
    const send = (async () => {
      compressing.add(beacons);
      const payload = raw.length > 200 ? await deflate(raw) : raw;
      if (!compressing.delete(beacons)) return;  // the page began leaving and sent them
      try {
        const response = await fetch(url, {
          method: "POST", body: frame(payload, ++sequence, raw.length), keepalive: true,
          headers: { "Content-Type": "text/plain" }, mode: "cors", credentials: "omit",
        });
        if (response.status >= 500 || response.status === 429) keepForRetry(beacons);
      } catch (_) {
        keepForRetry(beacons);
      }
    })();
    sending.add(send);
    await send;
    sending.delete(send);
  }

  addEventListener("pagehide", () => { if (started) flush(true); });
  addEventListener("visibilitychange", () => { if (started && document.visibilityState === "hidden") flush(true); });

  // ---- Page views and forms ----

  let lastUrl = "";
  function pageView() {
    if (location.href === lastUrl) return;
    lastUrl = location.href;
    track("hit", { url: location.href });
  }
  for (const method of ["pushState", "replaceState"]) {
    const original = history[method];
    history[method] = function () { const result = original.apply(this, arguments); setTimeout(pageView, 0); return result; };
  }
  addEventListener("popstate", pageView);

  // Forms: the phone and e-mail fields found in the form that was submitted.
  function field(form, pattern, type) {
    for (const input of form.querySelectorAll("input")) {
      if (input.type === type || pattern.test(input.name + " " + input.id + " " + (input.autocomplete || ""))) {
        if (input.value.trim()) return input.value.trim();
      }
    }
    return "";
  }
  addEventListener("submit", (event) => {
    const form = event.target;
    if (!started || !(form instanceof HTMLFormElement)) return;
    const phone = field(form, /phone|tel/i, "tel"), email = field(form, /mail/i, "email");
    const name = field(form, /name|fio/i, "__none__");
    track("form", { formId: form.id || form.getAttribute("name") || "form", pageUrl: location.href, phone, email, name });
    flush(true);
  }, true);

  // ---- Dynamic number replacement ----
  //
  // The session's leased number replaces the site's own: in elements of
  // data-number-selector (their whole text), and wherever one of
  // data-numbers appears in text or a tel: link, in any usual writing. A
  // MutationObserver keeps doing so for markup that appears later (SPA
  // headers, lazy blocks, modals): at most one pass per animation frame,
  // over what changed only. A number is leased only when the page shows one
  // of the site's phones, and `number_shown` is sent once per session and
  // number, once it is really on the page.

  const digits = (text) => text.replace(/\D/g, "");
  const last10 = (text) => digits(text).slice(-10);
  const siteNumbers = new Set((script.dataset.numbers || "").split(",").map(last10).filter((d) => d.length === 10));
  const PHONE = /(?:\+7|8)[\s\u00a0\-()]*\d{3}[\s\u00a0\-()]*\d{3}[\s\u00a0\-]*\d{2}[\s\u00a0\-]*\d{2}/g;
  const leaseUrl = () => `${endpoint}/v1/lease?site=${site}&session=${encodeURIComponent(session)}`;
  let lease = null, leasing = null, numbersStopped = false, observer = null, framePending = false;
  const changed = new Set();
  let replaced = [];  // [node, "text" | "href", original value]
  const stats = { passes: 0, lastPassMs: 0, maxPassMs: 0, flushWaitMs: 0, numberShownMs: 0 };

  const pretty = (number) => number.replace(/^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/, "+7 ($1) $2-$3-$4");
  const isSiteNumber = (text) => siteNumbers.has(last10(text));
  const SKIPPED = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEXTAREA", "TEMPLATE", "TITLE"]);

  /** Replaces what `root` holds; true when something of the site's showed. */
  function scan(root, apply) {
    let found = false;
    const shown = lease && pretty(lease.tracking_number);
    const set = (node, kind, value) => {
      found = true;
      if (!apply) return;
      const current = kind === "text" ? node.nodeValue : node.getAttribute("href");
      if (current === value) return;
      if (!replaced.some(([n, k]) => n === node && k === kind)) replaced.push([node, kind, current]);
      if (kind === "text") node.nodeValue = value; else node.setAttribute("href", value);
    };
    const elements = root.nodeType === 1 ? [root, ...root.querySelectorAll("*")] : [];
    for (const element of elements) {
      if (numberSelector && element.matches(numberSelector)) {
        found = true;
        if (apply && element.textContent !== shown) {
          if (!replaced.some(([n]) => n === element)) replaced.push([element, "content", element.textContent]);
          element.textContent = shown;
        }
      }
      if (element.tagName === "A" && /^tel:/i.test(element.getAttribute("href") || "")) {
        const href = element.getAttribute("href");
        if (isSiteNumber(href) || (numberSelector && element.matches(numberSelector))) set(element, "href", "tel:" + (lease ? lease.tracking_number : ""));
      }
    }
    if (!siteNumbers.size) return found;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = root.nodeType === 3 ? root : walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentNode && SKIPPED.has(node.parentNode.nodeName)) continue;  // code and form fields, not text
      const text = node.nodeValue;
      if (!PHONE.test(text)) continue;
      PHONE.lastIndex = 0;
      const next = text.replace(PHONE, (match) => isSiteNumber(match) ? (found = true, shown || match) : match);
      if (apply && next !== text) set(node, "text", next);
      if (root.nodeType === 3) break;
    }
    return found;
  }

  /** One pass over what changed since the last frame. */
  function pass() {
    framePending = false;
    if (!started || numbersStopped) { changed.clear(); return; }
    const begin = performance.now();
    const roots = [...changed].filter((node) => node.isConnected);
    changed.clear();
    // Re-rendered markup leaves replaced nodes behind: forget those.
    if (replaced.length > 100) replaced = replaced.filter(([node]) => node.isConnected);
    let wanted = false;
    for (const root of roots) wanted = scan(root, !!lease) || wanted;
    const took = performance.now() - begin;
    stats.passes++;
    stats.lastPassMs = took;
    stats.maxPassMs = Math.max(stats.maxPassMs, took);
    if (wanted && !lease) getLease();
    else if (wanted && lease) noteShown();
  }
  function schedule(node) {
    changed.add(node);
    if (!framePending) { framePending = true; requestAnimationFrame(pass); }
  }

  async function getLease() {
    if (crawler || leasing || numbersStopped) return;
    leasing = (async () => {
      try {
        // The server leases only to a session it has seen: what this page
        // tracked (its visit, its hit) is sent and committed first.
        const waitStart = performance.now();
        await Promise.all([flush(false), ...sending]);
        stats.flushWaitMs = performance.now() - waitStart;
        const answer = await (await fetch(leaseUrl(), { mode: "cors", credentials: "omit" })).json();
        if (!answer.tracking_number || numbersStopped) return;
        lease = answer;
        if (scan(document.documentElement, true)) {
          stats.numberShownMs = performance.now();
          noteShown();
        }
        if (answer.kind === "new" || answer.kind === "sticky") keepWhileVisible(answer.renew_after_ms);
      } catch (_) { /* the site's own number stays */ } finally { leasing = null; }
    })();
  }

  function noteShown() {
    const key = `${session}|${lease.tracking_number}`;
    try { if (localStorage.getItem(SHOWN_KEY) === key) return; localStorage.setItem(SHOWN_KEY, key); } catch (_) { /* counted per page */ }
    track("numberShown", { trackingNumber: lease.tracking_number });
  }

  function restoreNumbers() {
    for (const [node, kind, original] of replaced) {
      if (kind === "content") node.textContent = original;
      else if (kind === "text") node.nodeValue = original;
      else if (original === null) node.removeAttribute("href"); else node.setAttribute("href", original);
    }
    replaced = [];
  }

  function watchNumbers() {
    if (crawler || (!numberSelector && !siteNumbers.size)) return;
    observer = new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === "childList") for (const node of record.addedNodes) schedule(node);
        else schedule(record.target);
      }
    });
    observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["href"] });
    schedule(document.documentElement);
  }

  // An open page keeps its number: while it is visible, the lease is renewed
  // every `renew_after_ms` (a third of the hold). Renewals store no event.
  // Hidden, the page stops; back, it renews at once, and if the number lapsed
  // meanwhile it asks for one again. When the server's cap on an idle page
  // is reached (`capped`), the site's own number is put back: the number on
  // the screen is never one the pool may give someone else.
  let renewEveryMs = 0, renewTimer = 0, lastRenewalMs = 0;
  function keepWhileVisible(everyMs) {
    renewEveryMs = everyMs || 0;
    lastRenewalMs = performance.now();
    scheduleRenewal();
  }
  function scheduleRenewal() {
    clearTimeout(renewTimer);
    renewTimer = 0;
    if (!started || !renewEveryMs || document.visibilityState !== "visible") return;
    renewTimer = setTimeout(renew, Math.max(0, renewEveryMs - (performance.now() - lastRenewalMs)));
  }
  async function renew() {
    renewTimer = 0;
    lastRenewalMs = performance.now();
    let answer;
    try {
      answer = await (await fetch(leaseUrl() + "&renew=1", { mode: "cors", credentials: "omit" })).json();
    } catch (_) { scheduleRenewal(); return; }  // one lost renewal leaves two thirds of the hold
    if (answer.kind === "renewed") { scheduleRenewal(); return; }
    renewEveryMs = 0;
    if (answer.kind === "lapsed") { restoreNumbers(); lease = null; getLease(); return; }
    numbersStopped = true;
    restoreNumbers();
  }
  addEventListener("visibilitychange", scheduleRenewal);

  // ---- Start, consent, prerender ----

  let started = false;
  /** Everything the tracker does, once the visitor may be tracked. */
  function start() {
    if (started) return;
    started = true;
    numbersStopped = false;
    setUpIdentity();
    try {
      const kept = JSON.parse(localStorage.getItem(RETRY_KEY) || "[]");
      localStorage.removeItem(RETRY_KEY);
      for (const beacon of kept) { beacon.eventId = BigInt(beacon.eventId); queue.push(beacon); }  // kept as text
    } catch (_) { /* nothing kept */ }
    if (fresh) {
      track("visit", {
        utmSource: query.get("utm_source"), utmMedium: query.get("utm_medium"), utmCampaign: query.get("utm_campaign"),
        utmContent: query.get("utm_content"), utmTerm: query.get("utm_term"), referrer: document.referrer,
        landingUrl: location.href, gclid: query.get("gclid"), yclid: query.get("yclid"), fbclid: query.get("fbclid"),
        device: device(),
      });
    }
    lastUrl = "";
    pageView();
    if (document.readyState === "loading") addEventListener("DOMContentLoaded", watchNumbers, { once: true });
    else watchNumbers();
    bridgeJivo();
  }
  /** Consent withdrawn: stop, forget what is queued, delete the cookies. */
  function stop() {
    if (!started) return;
    started = false;
    queue = [];
    clearTimeout(timer);
    clearTimeout(renewTimer);
    if (observer) observer.disconnect();
    observer = null;
    numbersStopped = true;
    restoreNumbers();
    lease = null;
    for (const name of [VISITOR, SESSION]) { deleteCookie(name, cookieDomain); deleteCookie(name, ""); }
    try { localStorage.removeItem(RETRY_KEY); localStorage.removeItem(SHOWN_KEY); } catch (_) { /* blocked */ }
  }
  /** Starts when the page is really shown: a prerendered page waits. */
  function whenShown(then) {
    if (document.prerendering) document.addEventListener("prerenderingchange", then, { once: true });
    else then();
  }

  // Jivo: our visitor id as its user token, so its webhooks carry it.
  function bridgeJivo() {
    if (started && root.jivo_api && typeof root.jivo_api.setUserToken === "function") root.jivo_api.setUserToken(visitor);
  }
  const previousJivoCallback = root.jivo_onLoadCallback;
  root.jivo_onLoadCallback = function () { bridgeJivo(); if (typeof previousJivoCallback === "function") previousJivoCallback(); };

  const api = {
    get visitor() { return visitor; },
    get session() { return session; },
    get tracking() { return started; },
    get cookieDomain() { return cookieDomain; },
    track, flush, stats,
    /** The visitor agreed (true) or withdrew (false); see data-consent. */
    consent(granted) { if (granted) whenShown(start); else stop(); },
  };
  root.Stitch = root.stitch = api;
  if (!consentRequired || root.stitchConsent === true) whenShown(start);
})(typeof window !== "undefined" ? window : globalThis);
