/*
 * Stitch browser tracker. Plain modern JavaScript, no build step.
 *
 *   <script async src="https://stitch.example/v1/stitch.js" data-site="7"
 *           data-number-selector=".phone"></script>
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
  const SESSION_IDLE_MS = 30 * 60 * 1000;
  const BATCH_MAX = 20, FLUSH_MS = 1000, RETRY_KEY = "_stitch_retry", RETRY_MAX = 50;

  function readCookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  function writeCookie(name, value, days) {
    const expires = new Date(Date.now() + days * 864e5).toUTCString();
    document.cookie = `${name}=${encodeURIComponent(value)}; expires=${expires}; path=/; SameSite=Lax`;
  }
  function randomId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The visitor: a first-party cookie kept two years.
  let visitor = readCookie("_stitch_id");
  if (!visitor) visitor = randomId();
  writeCookie("_stitch_id", visitor, 730);

  // The campaign this page came from, if any: a new one starts a session.
  const query = new URLSearchParams(location.search);
  const campaign = ["utm_source", "utm_medium", "utm_campaign", "gclid", "yclid"].map((k) => query.get(k) || "").join("|");
  const hasCampaign = campaign.replace(/\|/g, "") !== "";

  // The session: "id.lastActivityMs.campaign" in a cookie.
  const [storedSession, lastMs, storedCampaign] = readCookie("_stitch_sid").split(".");
  const fresh = !storedSession || Date.now() - Number(lastMs) > SESSION_IDLE_MS ||
    (hasCampaign && campaign !== decodeURIComponent(storedCampaign || ""));
  const session = fresh ? randomId() : storedSession;
  function touchSession() {
    writeCookie("_stitch_sid", `${session}.${Date.now()}.${encodeURIComponent(hasCampaign ? campaign : storedCampaign ? decodeURIComponent(storedCampaign) : "")}`, 1);
  }
  touchSession();

  function identifiers() {
    const ids = [[KIND.cookie, visitor], [KIND.session, session]];
    const ga = readCookie("_ga"), ym = readCookie("_ym_uid");
    if (ga) ids.push([KIND.ga, ga]);
    if (ym) ids.push([KIND.ym, ym]);
    return ids;
  }

  function device() {
    const ua = navigator.userAgent;
    if (/bot|crawl|spider|headless/i.test(ua)) return DEVICE.bot;
    if (/iPad|Tablet/i.test(ua)) return DEVICE.tablet;
    return /Mobi|Android/i.test(ua) ? DEVICE.mobile : DEVICE.desktop;
  }

  // ---- Sending: a queue flushed by size, by timer and when the page hides ----

  let queue = [];
  let sequence = Date.now();
  let timer = 0;
  try { queue = JSON.parse(localStorage.getItem(RETRY_KEY) || "[]"); localStorage.removeItem(RETRY_KEY); } catch (_) { queue = []; }
  for (const beacon of queue) beacon.eventId = BigInt(beacon.eventId);  // kept as text

  function track(type, body, extra) {
    queue.push({ site, timeMs: Date.now(), eventId: eventId(), identifiers: identifiers().concat(extra || []), type, body });
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
  }

  addEventListener("pagehide", () => flush(true));
  addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(true); });

  // ---- What is tracked ----

  if (fresh) {
    track("visit", {
      utmSource: query.get("utm_source"), utmMedium: query.get("utm_medium"), utmCampaign: query.get("utm_campaign"),
      utmContent: query.get("utm_content"), utmTerm: query.get("utm_term"), referrer: document.referrer,
      landingUrl: location.href, gclid: query.get("gclid"), yclid: query.get("yclid"), fbclid: query.get("fbclid"),
      device: device(),
    });
  }

  let lastUrl = "";
  function pageView() {
    if (location.href === lastUrl) return;
    lastUrl = location.href;
    track("hit", { url: location.href });
  }
  pageView();
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
    if (!(form instanceof HTMLFormElement)) return;
    const phone = field(form, /phone|tel/i, "tel"), email = field(form, /mail/i, "email");
    const name = field(form, /name|fio/i, "__none__");
    track("form", { formId: form.id || form.getAttribute("name") || "form", pageUrl: location.href, phone, email, name });
    flush(true);
  }, true);

  // Dynamic number replacement: the session's leased number in every
  // element matching data-number-selector (text and tel: links).
  const leaseUrl = `${endpoint}/v1/lease?site=${site}&session=${encodeURIComponent(session)}`;
  let replaced = [];  // [element, original text, original href]
  async function replaceNumbers() {
    if (!numberSelector) return;
    const elements = document.querySelectorAll(numberSelector);
    if (!elements.length) return;
    try {
      const response = await fetch(leaseUrl, { mode: "cors", credentials: "omit" });
      const lease = await response.json();
      if (!lease.tracking_number) return;
      const shown = lease.tracking_number.replace(/^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/, "+7 ($1) $2-$3-$4");
      for (const element of elements) {
        if (!replaced.some(([e]) => e === element)) replaced.push([element, element.textContent, element.getAttribute("href")]);
        element.textContent = shown;
        if (element.tagName === "A") element.href = "tel:" + lease.tracking_number;
      }
      track("numberShown", { trackingNumber: lease.tracking_number });
      if (lease.kind === "new" || lease.kind === "sticky") keepWhileVisible(lease.renew_after_ms);
    } catch (_) { /* the site's own number stays */ }
  }
  if (document.readyState === "loading") addEventListener("DOMContentLoaded", replaceNumbers);
  else replaceNumbers();

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
    if (!renewEveryMs || document.visibilityState !== "visible") return;
    renewTimer = setTimeout(renew, Math.max(0, renewEveryMs - (performance.now() - lastRenewalMs)));
  }
  async function renew() {
    renewTimer = 0;
    lastRenewalMs = performance.now();
    let lease;
    try {
      lease = await (await fetch(leaseUrl + "&renew=1", { mode: "cors", credentials: "omit" })).json();
    } catch (_) { scheduleRenewal(); return; }  // one lost renewal leaves two thirds of the hold
    if (lease.kind === "renewed") { scheduleRenewal(); return; }
    renewEveryMs = 0;
    if (lease.kind === "lapsed") { replaceNumbers(); return; }
    for (const [element, text, href] of replaced) {
      element.textContent = text;
      if (href === null) element.removeAttribute("href"); else element.setAttribute("href", href);
    }
    replaced = [];
  }
  addEventListener("visibilitychange", scheduleRenewal);

  // Jivo: our visitor id as its user token, so its webhooks carry it.
  function bridgeJivo() {
    if (root.jivo_api && typeof root.jivo_api.setUserToken === "function") root.jivo_api.setUserToken(visitor);
  }
  const previousJivoCallback = root.jivo_onLoadCallback;
  root.jivo_onLoadCallback = function () { bridgeJivo(); if (typeof previousJivoCallback === "function") previousJivoCallback(); };
  bridgeJivo();

  root.stitch = { visitor, session, track, flush };
})(typeof window !== "undefined" ? window : globalThis);
