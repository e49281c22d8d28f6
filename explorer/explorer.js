/*
 * Stitch profile explorer. Plain JavaScript, no build step, no libraries:
 * it is served by the binary (GET /explorer/) under
 * Content-Security-Policy: default-src 'self', and talks to the JSON API
 * (/api/v1/, proto/openapi.yaml) only.
 *
 * Every value from the server reaches the page through textContent or an
 * attribute set by setAttribute, never through innerHTML: a UTM tag or a
 * form field holding markup stays text.
 *
 * Deep links: /explorer/#site=1&person=42 opens a person directly.
 */
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const GRAPH_PAGE = 200;
  const HISTORY_PAGE = 50;
  const FEED_PAGES_MAX = 20;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem("stitch.token") || "",
    access: null,
    site: 0,
    person: null,       // the lookup answer
    graph: null,        // the graph page
    graphOffset: 0,
    layout: null,       // nodes and edges as drawn
    picked: [],         // node indexes picked for explain
    cursor: "",         // the timeline's next page
    searchSerial: 0,
    feedCursor: 0,
  };
  window.stitchExplorer = state;  // for tests and the curious

  // MARK: DOM helpers

  /** An element with text and children; props: class, text, title, data-*, and attributes. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.firstChild.remove(); }

  function time(ms) {
    if (!ms) return "—";
    return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  let errorTimer = 0;
  function showError(error) {
    const box = $("error");
    box.textContent = (error && error.code ? error.code + ": " : "") + (error && error.message ? error.message : String(error));
    box.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  // MARK: The JSON API

  async function api(path, options) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const init = { method: (options && options.method) || "GET", headers };
    if (options && options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(path, init);
    let json = {};
    try { json = await response.json(); } catch (_) { /* an empty or non-JSON answer */ }
    if (!response.ok) {
      const error = new Error(json.message || response.statusText);
      error.code = json.code || String(response.status);
      error.status = response.status;
      throw error;
    }
    return json;
  }

  const sitePath = (rest) => "/api/v1/sites/" + state.site + rest;
  const query = (params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
    }
    const text = search.toString();
    return text ? "?" + text : "";
  };

  /** A stored identifier as a request names it: chat and CRM values are `namespace:value`. */
  function requestIdentifier(stored) {
    if ((stored.kind === "chat" || stored.kind === "crm_contact") && stored.value.includes(":")) {
      const at = stored.value.indexOf(":");
      return { kind: stored.kind, value: stored.value.slice(at + 1), namespace: stored.value.slice(0, at) };
    }
    return { kind: stored.kind, value: stored.value };
  }

  // MARK: Access: token and site

  async function loadAccess() {
    $("token").value = state.token;
    try {
      state.access = await api("/api/v1/token");
    } catch (error) {
      state.access = null;
      $("whoami").textContent = error.status === 401 ? "a token is needed" : "";
      fillSites([]);
      if (error.status !== 401) showError(error);
      return;
    }
    const access = state.access;
    $("whoami").textContent = access.name + (access.admin ? " (admin)" : "");
    document.body.classList.toggle("admin", access.admin);
    for (const node of document.querySelectorAll(".admin-only")) node.hidden = !access.admin;
    fillSites(access.admin ? access.known_sites || [] : access.sites);
  }

  function fillSites(sites) {
    const select = $("site");
    const number = $("site-number");
    clear(select);
    for (const site of sites) select.append(el("option", { value: site, text: "site " + site }));
    const admin = state.access && state.access.admin;
    if (admin) select.append(el("option", { value: "other", text: "other…" }));
    const wanted = state.site || Number(sites[0] || 0);
    if (sites.map(Number).includes(wanted)) {
      select.value = String(wanted);
      number.hidden = true;
    } else if (admin) {
      select.value = "other";
      number.hidden = false;
      number.value = wanted || 1;
    }
    readSite();
  }

  function readSite() {
    const select = $("site");
    const number = $("site-number");
    number.hidden = select.value !== "other";
    state.site = select.value === "other" ? Number(number.value) || 0 : Number(select.value) || 0;
  }

  // MARK: Search as one types

  /** What the typed text may be, most likely first; the server normalizes each. */
  function candidates(text) {
    const typed = text.trim();
    if (!typed) return { identifiers: [], personIDs: [] };
    const identifiers = [];
    const personIDs = [];
    const add = (kind, value, namespace) => identifiers.push(namespace ? { kind, value, namespace } : { kind, value });
    const person = /^(?:#|person\s*#?)(\d+)$/i.exec(typed);
    if (person) return { identifiers, personIDs: [Number(person[1])] };
    if (typed.includes("@")) {
      add("email", typed);
      return { identifiers, personIDs };
    }
    const namespaced = /^([a-z][a-z0-9_.-]{0,31}):(.+)$/i.exec(typed);
    if (namespaced) {
      add("chat", namespaced[2], namespaced[1]);
      add("crm_contact", namespaced[2], namespaced[1]);
      return { identifiers, personIDs };
    }
    const digits = typed.replace(/\D/g, "");
    if (/^[\d\s()+\-.]+$/.test(typed) && digits.length >= 7 && digits.length <= 15) add("phone", typed);
    if (/^(GA\d\.\d\.)?\d+\.\d+$/i.test(typed)) add("ga_client_id", typed);
    if (/^\d{10,20}$/.test(typed)) add("ym_client_id", typed);
    if (!/\s/.test(typed)) {
      add("cookie", typed);
      add("session", typed);
      add("user_id", typed);
    }
    if (/^\d{1,19}$/.test(typed)) personIDs.push(Number(typed));
    return { identifiers, personIDs };
  }

  let searchTimer = 0;
  function scheduleSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 180);
  }

  async function search() {
    const serial = ++state.searchSerial;
    const text = $("search").value;
    const { identifiers, personIDs } = candidates(text);
    const list = $("results");
    if (!state.site) {
      $("search-status").textContent = "choose a site first";
      return;
    }
    if (identifiers.length === 0 && personIDs.length === 0) {
      clear(list);
      $("search-status").textContent = "";
      return;
    }
    $("search-status").textContent = "searching…";
    const found = [];
    try {
      if (identifiers.length) {
        const batch = await api(sitePath("/persons/batch-lookup"), {
          method: "POST", body: { identifiers, include_identifiers: false },
        });
        batch.results.forEach((result, index) => {
          if (result.found) found.push({ via: identifiers[index], person: result.person });
        });
      }
      for (const id of personIDs) {
        try {
          const person = await api(sitePath("/person" + query({ person_id: id })));
          found.push({ via: { kind: "person id", value: "#" + id }, person });
        } catch (error) {
          if (error.status !== 404 && error.status !== 400) throw error;
        }
      }
    } catch (error) {
      if (serial === state.searchSerial) {
        $("search-status").textContent = "";
        showError(error);
      }
      return;
    }
    if (serial !== state.searchSerial) return;  // a newer search is on its way
    clear(list);
    const seen = new Set();
    for (const { via, person } of found) {
      if (seen.has(person.person_id)) continue;
      seen.add(person.person_id);
      const item = el("li", { tabindex: 0, "data-person": person.person_id },
        el("span", { class: "kind", text: via.kind }),
        el("span", { class: "value", text: via.namespace ? via.namespace + ":" + via.value : via.value }),
        el("span", { class: "muted", text: "person #" + person.person_id + " · " + person.identifier_count + " identifiers · " + person.event_count + " events · last seen " + time(person.last_seen_ms) }));
      item.addEventListener("click", () => openPerson(person.person_id));
      item.addEventListener("keydown", (event) => { if (event.key === "Enter") openPerson(person.person_id); });
      list.append(item);
    }
    $("search-status").textContent = seen.size ? "" : "no one in site " + state.site + " has that identifier";
  }

  // MARK: A person

  async function openPerson(personID) {
    state.picked = [];
    state.graphOffset = 0;
    state.cursor = "";
    location.hash = "site=" + state.site + "&person=" + personID;
    const started = performance.now();
    try {
      const [person, graph, history] = await Promise.all([
        api(sitePath("/person" + query({ person_id: personID, include_identifiers: true }))),
        api(sitePath("/persons/" + personID + "/graph" + query({ limit: GRAPH_PAGE }))),
        api(sitePath("/persons/" + personID + "/history" + historyQuery(""))),
      ]);
      state.person = person;
      state.graph = graph;
      $("person").hidden = false;
      renderCard(person);
      renderGraph(graph);
      clear($("timeline"));
      renderHistory(history);
      state.renderedMs = performance.now() - started;
      document.body.setAttribute("data-rendered", String(person.person_id));
      loadChanges(true);
    } catch (error) {
      showError(error);
    }
  }

  function historyQuery(cursor) {
    return query({
      limit: HISTORY_PAGE, newest_first: true, conversions: true, model: $("model").value, cursor,
    });
  }

  function renderCard(person) {
    $("person-id").textContent = "#" + person.person_id;
    const facts = $("person-facts");
    clear(facts);
    const counts = Object.entries(person.event_counts || {}).map(([type, count]) => count + " " + type).join(", ");
    for (const [term, value] of [
      ["site", person.site], ["first seen", time(person.first_seen_ms)], ["last seen", time(person.last_seen_ms)],
      ["identifiers", person.identifier_count], ["events", person.event_count + (counts ? " (" + counts + ")" : "")],
    ]) facts.append(el("dt", { text: term }), el("dd", { text: value }));

    const box = $("identifiers");
    clear(box);
    const byKind = new Map();
    for (const identifier of person.identifiers || []) {
      if (!byKind.has(identifier.kind)) byKind.set(identifier.kind, []);
      byKind.get(identifier.kind).push(identifier);
    }
    const admin = state.access && state.access.admin;
    for (const [kind, identifiers] of byKind) {
      const cap = (person.identifier_caps || {})[kind];
      const heading = el("h3", {}, kind.replace(/_/g, " ") + " · " + identifiers.length,
        cap !== undefined ? el("span", { class: "cap" + (identifiers.length >= cap ? " over" : ""), text: " (cap " + cap + ")" }) : null);
      const group = el("div", { class: "kind-group", "data-kind": kind }, heading);
      for (const identifier of identifiers) {
        const row = el("div", { class: "ident" },
          el("span", { class: "value", text: identifier.value }),
          el("span", { class: "seen", title: "first seen, and the last event stored under it (events are stored under their newest identifier)", text: "since " + time(identifier.first_seen_ms) + (identifier.last_seen_ms > identifier.first_seen_ms ? " · last event " + time(identifier.last_seen_ms) : "") }),
          identifier.quarantined ? el("span", { class: "badge quarantined", text: "quarantined" }) : null);
        if (admin) {
          const action = identifier.quarantined ? "unquarantine" : "quarantine";
          row.append(el("button", {
            class: "small " + (identifier.quarantined ? "" : "danger"), type: "button", "data-action": action,
            text: action === "quarantine" ? "Quarantine…" : "Unquarantine…",
            onclick: () => repair(action, identifier),
          }));
        }
        group.append(row);
      }
      box.append(group);
    }
  }

  // MARK: The graph

  function renderGraph(graph) {
    const paging = $("graph-paging");
    clear(paging);
    if (graph.identifier_count > graph.identifiers.length) {
      const first = graph.identifiers_offset + 1;
      const last = graph.identifiers_offset + graph.identifiers.length;
      paging.append(el("span", { class: "muted", text: "identifiers " + first + "–" + last + " of " + graph.identifier_count + " " }));
      if (graph.identifiers_offset > 0) paging.append(el("button", { class: "small", type: "button", text: "◀ previous", onclick: () => graphPage(-GRAPH_PAGE) }));
      if (last < graph.identifier_count) paging.append(el("button", { class: "small", type: "button", text: "next ▶", onclick: () => graphPage(GRAPH_PAGE) }));
    }
    if (graph.links_omitted > 0) paging.append(el("span", { class: "muted", text: " · " + graph.links_omitted + " more links not drawn" }));

    // Nodes: the page's identifiers, then the other persons' identifiers
    // whose links were refused.
    const nodes = graph.identifiers.map((identifier) => ({ identifier, stranger: false }));
    const strangerIndex = new Map();
    const edges = new Map();
    const edge = (a, b, kind) => {
      const key = a < b ? a + "-" + b + kind : b + "-" + a + kind;
      if (!edges.has(key)) edges.set(key, { a, b, refused: kind === "r", links: [], refusals: [] });
      return edges.get(key);
    };
    for (const link of graph.links) {
      const [hub, ...rest] = link.nodes;
      for (const other of rest) edge(hub, other, "l").links.push(link);
    }
    for (const refusal of graph.refusals) {
      const key = refusal.other.kind + ":" + refusal.other.value;
      if (!strangerIndex.has(key)) {
        strangerIndex.set(key, nodes.length);
        nodes.push({ identifier: refusal.other, stranger: true, refusal });
      }
      for (const node of refusal.nodes.length ? refusal.nodes : [0]) {
        if (node < graph.identifiers.length) edge(node, strangerIndex.get(key), "r").refusals.push(refusal);
      }
    }
    const edgeList = [...edges.values()];
    layout(nodes, edgeList);
    state.layout = { nodes, edges: edgeList };
    drawGraph();
  }

  /**
   * Force-directed layout (Fruchterman–Reingold with a pull to the centre),
   * deterministic: the same person draws the same. The drawing grows with
   * the number of identifiers and the SVG scales it to fit.
   */
  function layout(nodes, edges) {
    const count = nodes.length;
    const width = Math.max(800, Math.round(Math.sqrt(count) * 95));
    const height = Math.round(width * 0.62);
    state.size = { width, height };
    // Spread on a golden-angle spiral: no two start on one spot.
    nodes.forEach((node, index) => {
      const radius = Math.sqrt((index + 0.5) / Math.max(1, count)) * Math.min(width, height) * 0.45;
      const angle = index * 2.399963;
      node.x = width / 2 + radius * Math.cos(angle);
      node.y = height / 2 + radius * Math.sin(angle);
    });
    if (count < 2) return;
    const k = Math.sqrt((width * height) / count) * 0.9;
    const iterations = count > 150 ? 140 : 280;
    let temperature = width / 10;
    const reach = Math.min(width, height) * 0.38;
    const gravity = ((count * k * k) / (reach * reach)) * Math.min(1, count / 40);
    const dx = new Float64Array(count), dy = new Float64Array(count);
    for (let step = 0; step < iterations; step++) {
      dx.fill(0);
      dy.fill(0);
      for (let i = 0; i < count; i++) {
        for (let j = i + 1; j < count; j++) {
          let x = nodes[i].x - nodes[j].x, y = nodes[i].y - nodes[j].y;
          const distance = Math.hypot(x, y) || 0.01;
          const force = (k * k) / distance;
          x = (x / distance) * force;
          y = (y / distance) * force;
          dx[i] += x; dy[i] += y; dx[j] -= x; dy[j] -= y;
        }
      }
      for (const edge of edges) {
        const a = nodes[edge.a], b = nodes[edge.b];
        let x = a.x - b.x, y = a.y - b.y;
        const distance = Math.hypot(x, y) || 0.01;
        const force = (distance * distance) / k;
        x = (x / distance) * force;
        y = (y / distance) * force;
        dx[edge.a] -= x; dy[edge.a] -= y; dx[edge.b] += x; dy[edge.b] += y;
      }
      // Gravity about as strong as the whole repulsion at `reach` from the
      // centre: pieces the page does not connect stay in view.
      for (let i = 0; i < count; i++) {
        dx[i] += (width / 2 - nodes[i].x) * gravity;
        dy[i] += (height / 2 - nodes[i].y) * gravity;
        const length = Math.hypot(dx[i], dy[i]) || 0.01;
        const move = Math.min(length, temperature);
        nodes[i].x = Math.min(width - 150, Math.max(20, nodes[i].x + (dx[i] / length) * move));
        nodes[i].y = Math.min(height - 15, Math.max(15, nodes[i].y + (dy[i] / length) * move));
      }
      temperature = Math.max(1, temperature * 0.97);
    }
  }

  const eventsOf = (edge) => edge.links.reduce((sum, link) => sum + (link.events || 1), 0);

  function short(text, length) { return text.length > length ? text.slice(0, length - 1) + "…" : text; }

  function drawGraph() {
    const canvas = $("graph");
    clear(canvas);
    const { nodes, edges } = state.layout;
    canvas.setAttribute("viewBox", "0 0 " + state.size.width + " " + state.size.height);
    // Many identifiers: sessions go unlabelled (their title says who they are).
    const degree = new Array(nodes.length).fill(0);
    for (const edge of edges) { degree[edge.a]++; degree[edge.b]++; }
    const crowded = nodes.length > 60;
    const chain = state.chain || { edges: new Set(), nodes: new Set() };
    const edgeLayer = svg("g", { class: "edges" });
    edges.forEach((edge, index) => {
      const a = nodes[edge.a], b = nodes[edge.b];
      const classes = ["edge"];
      if (edge.refused) classes.push("refused");
      if (chain.edges.has(index)) classes.push("chain");
      const line = svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: classes.join(" "), "data-edge": index });
      const title = edge.refused
        ? "refused: " + edge.refusals[0].reason + " (event " + edge.refusals[0].event_seq + ")"
        : eventsOf(edge) + " event" + (eventsOf(edge) > 1 ? "s" : "") + ", first " + edge.links[0].event_type + " #" + edge.links[0].event_seq;
      line.append(svg("title", {}, title));
      line.addEventListener("click", () => showEdge(index));
      edgeLayer.append(line);
      if (edge.refused) {
        edgeLayer.append(svg("text", { class: "edge-label", x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 3 }, short(edge.refusals[0].reason, 28)));
      }
    });
    canvas.append(edgeLayer);
    const nodeLayer = svg("g", { class: "nodes" });
    nodes.forEach((node, index) => {
      const identifier = node.identifier;
      const classes = ["node"];
      if (node.stranger) classes.push("stranger");
      if (identifier.quarantined || (node.refusal && node.refusal.reason.startsWith("quarantined"))) classes.push("quarantined");
      if (state.picked.includes(index)) classes.push("picked");
      if (chain.nodes.has(index)) classes.push("chain");
      const group = svg("g", { class: classes.join(" "), "data-node": index, transform: "translate(" + node.x.toFixed(1) + "," + node.y.toFixed(1) + ")" });
      group.append(svg("circle", { r: node.stranger ? 7 : 9, class: "k-" + identifier.kind }));
      if (!crowded || identifier.kind !== "session" || degree[index] > 2 || chain.nodes.has(index) || state.picked.includes(index)) {
        group.append(svg("text", { x: 12, y: 4 }, identifier.kind.replace("_client_id", "") + ": " + short(identifier.value, 22)));
      }
      group.append(svg("title", {}, identifier.kind + " " + identifier.value + (node.stranger ? " — another person's" + (node.refusal.other_person_id ? " (#" + node.refusal.other_person_id + ")" : " (erased)") : "")));
      group.addEventListener("click", () => pickNode(index));
      nodeLayer.append(group);
    });
    canvas.append(nodeLayer);
  }

  async function graphPage(delta) {
    state.graphOffset = Math.max(0, state.graphOffset + delta);
    state.picked = [];
    state.chain = null;
    try {
      state.graph = await api(sitePath("/persons/" + state.person.person_id + "/graph" + query({ offset: state.graphOffset, limit: GRAPH_PAGE })));
      renderGraph(state.graph);
    } catch (error) {
      showError(error);
    }
  }

  async function pickNode(index) {
    const node = state.layout.nodes[index];
    const detail = $("graph-detail");
    if (state.picked.length >= 2) state.picked = [];
    state.picked.push(index);
    state.chain = null;
    drawGraph();
    clear(detail);
    detail.append(el("p", {}, "Picked ", el("b", { text: node.identifier.kind + " " + node.identifier.value })));
    if (node.stranger) {
      detail.append(el("p", { text: "Another person's identifier" + (node.refusal.other_person_id ? " (person #" + node.refusal.other_person_id + ")" : ", since erased") + ": its link was refused — " + node.refusal.reason + ", first by event #" + node.refusal.event_seq + " (" + node.refusal.events + " events carried it)." }));
      if (node.refusal.other_person_id) detail.append(el("button", { class: "small", type: "button", text: "Open person #" + node.refusal.other_person_id, onclick: () => openPerson(node.refusal.other_person_id) }));
      if (state.access && state.access.admin && node.refusal.reason.startsWith("quarantined")) {
        detail.append(" ", el("button", { class: "small", type: "button", "data-action": "unquarantine", text: "Unquarantine…", onclick: () => repair("unquarantine", node.identifier) }));
      }
    }
    if (state.picked.length === 1) {
      detail.append(el("p", { class: "muted", text: "Pick another identifier to see how the two are linked." }));
      return;
    }
    const [a, b] = state.picked.map((i) => requestIdentifier(state.layout.nodes[i].identifier));
    try {
      const explanation = await api(sitePath("/explain" + query({
        a_kind: a.kind, a_value: a.value, a_namespace: a.namespace, b_kind: b.kind, b_value: b.value, b_namespace: b.namespace,
      })));
      showExplanation(explanation);
    } catch (error) {
      showError(error);
    }
  }

  function nodeOf(stored) {
    return state.layout.nodes.findIndex((node) => node.identifier.kind === stored.kind && node.identifier.value === stored.value);
  }

  function showExplanation(explanation) {
    const detail = $("graph-detail");
    const chain = { edges: new Set(), nodes: new Set() };
    const list = el("ol", { class: "chain" });
    for (const step of explanation.steps) {
      const from = nodeOf(step.from), to = nodeOf(step.to);
      chain.nodes.add(from);
      chain.nodes.add(to);
      state.layout.edges.forEach((edge, index) => {
        if (!edge.refused && ((edge.a === from && edge.b === to) || (edge.a === to && edge.b === from))) chain.edges.add(index);
      });
      list.append(el("li", { text: step.from.kind + " " + step.from.value + " → " + step.to.kind + " " + step.to.value + ": " + step.type + " #" + step.event_seq + " at " + time(step.time_ms) + " (" + step.via + ")" }));
    }
    state.chain = chain;
    drawGraph();
    const verdicts = {
      linked: "Linked: one person, through " + explanation.steps.length + " link" + (explanation.steps.length === 1 ? "" : "s") + ".",
      not_linked: "Not linked: two persons, and no event tried to link them.",
      refused: "Refused: an event tried to link them and was refused.",
      unknown: "Unknown: one of them was never seen.",
    };
    detail.append(el("p", { class: "verdict", "data-verdict": explanation.verdict, text: verdicts[explanation.verdict] || explanation.verdict }));
    if (explanation.refusal) detail.append(el("p", { text: "Reason: " + explanation.refusal.reason + " (event #" + explanation.refusal.event_seq + " at " + time(explanation.refusal.time_ms) + ")" }));
    detail.append(list);
  }

  async function showEdge(index) {
    const edge = state.layout.edges[index];
    const detail = $("graph-detail");
    clear(detail);
    const a = state.layout.nodes[edge.a].identifier, b = state.layout.nodes[edge.b].identifier;
    detail.append(el("p", {}, el("b", { text: a.kind + " " + a.value }), " — ", el("b", { text: b.kind + " " + b.value })));
    const first = edge.refused ? edge.refusals[0] : edge.links[0];
    if (edge.refused) detail.append(el("p", { class: "refusal", text: "Refused by " + first.reason + " (" + first.events + " events carried it)" }));
    else detail.append(el("p", { text: eventsOf(edge) + " event(s) link them; the first:" }));
    detail.append(el("p", { text: first.event_type + " #" + first.event_seq + " at " + time(first.time_ms) + (first.via ? " (" + first.via + ")" : "") }));
    try {
      const page = await api(sitePath("/persons/" + state.person.person_id + "/history" + query({ from_ms: first.time_ms, to_ms: first.time_ms + 1, limit: 1000 })));
      const event = page.events.find((candidate) => candidate.seq === first.event_seq);
      if (event) detail.append(bodyTable(event));
    } catch (error) {
      showError(error);
    }
  }

  // MARK: The timeline

  function renderHistory(page) {
    const list = $("timeline");
    let hits = null;
    for (const event of page.events) {
      if (event.type === "hit") {
        if (!hits) {
          hits = { item: el("li", { class: "t-hits" }), urls: el("ul"), count: 0, first: event, last: event };
          list.append(hits.item);
        }
        hits.count++;
        hits.last = event;
        hits.urls.append(el("li", {}, el("span", { class: "when", text: time(event.time_ms) + " " }), (event.body && event.body.url) || ""));
        clear(hits.item);
        hits.item.append(el("details", {}, el("summary", { text: hits.count + " page view" + (hits.count > 1 ? "s" : "") + ", " + time(hits.last.time_ms) + " – " + time(hits.first.time_ms) }), hits.urls));
        continue;
      }
      hits = null;
      list.append(eventItem(event));
    }
    state.cursor = page.next_cursor;
    $("more").hidden = !page.next_cursor;
  }

  function sourceOf(visit) {
    if (visit.utm_source || visit.utm_medium || visit.utm_campaign) {
      return [visit.utm_source, visit.utm_medium, visit.utm_campaign].filter(Boolean).join(" / ");
    }
    for (const click of ["gclid", "yclid", "fbclid"]) if (visit[click]) return click + " (paid click)";
    if (visit.referrer) {
      try { return "referrer " + new URL(visit.referrer).host; } catch (_) { return "referrer " + visit.referrer; }
    }
    return "direct";
  }

  function sourceLabel(source) {
    const parts = [source.source, source.medium, source.campaign].filter(Boolean).join("/");
    return (parts || source.kind) + " [" + source.channel.replace(/_/g, " ") + "]";
  }

  function eventItem(event) {
    const body = event.body || {};
    const item = el("li", { class: "t-" + event.type, "data-seq": event.seq });
    const head = el("div", { class: "head" }, el("span", { class: "type", text: event.type.replace("_", " ") }), el("span", { class: "when", text: time(event.time_ms) }));
    item.append(head);
    let summary = "";
    switch (event.type) {
      case "visit":
        summary = sourceOf(body) + (body.landing_url ? " → " + body.landing_url : "");
        break;
      case "number_shown":
        summary = "number " + (body.tracking_number || "");
        break;
      case "call": {
        const match = event.call_match ? event.call_match.kind : "unmatched";
        const how = { session: "session lease", static: "static number", unknown: "unknown", office: "office number" }[match] || match;
        summary = (body.caller_phone || "hidden caller") + " → " + (body.tracking_number || "") + ", " + (body.duration_s || 0) + " s" + (body.answered ? "" : ", missed") + " · matched by " + how;
        if (event.call_match && event.call_match.session) summary += " (" + event.call_match.session + ")";
        break;
      }
      case "deal": {
        const status = String(body.status || "").replace("DEAL_STATUS_", "").toLowerCase();
        const revenue = body.revenue_minor ? (Number(body.revenue_minor) / 100).toFixed(2) + " " + (body.currency || "") : "";
        summary = status + (revenue ? " · " + revenue : "") + (body.deal_id ? " · deal " + body.deal_id : "");
        break;
      }
      case "form":
        summary = [body.form_id && "form " + body.form_id, body.name, body.phone, body.email].filter(Boolean).join(" · ");
        break;
      case "chat":
        summary = [body.provider && body.provider + " chat", body.chat_id, body.phone, body.email].filter(Boolean).join(" · ");
        break;
      default:
        summary = "";
    }
    if (summary) head.append(el("span", { class: "summary", text: summary }));
    if (event.conversion) {
      const conversion = event.conversion;
      if (conversion.unique) head.append(el("span", { class: "badge unique", text: "unique" }));
      if (conversion.target) head.append(el("span", { class: "badge target", text: "target" }));
      const credits = el("ul", { class: "credits" });
      for (const credit of conversion.credits) {
        credits.append(el("li", { text: Math.round(credit.weight * 100) + "% → " + sourceLabel(credit.source) + (credit.visit_seq ? " (visit #" + credit.visit_seq + ")" : "") + (credit.revenue_minor ? " · " + (credit.revenue_minor / 100).toFixed(2) : "") }));
      }
      if (!conversion.credits.length) credits.append(el("li", { class: "muted", text: "no visit to credit" }));
      item.append(credits);
    }
    if (event.type !== "hit") item.append(el("details", {}, el("summary", { class: "muted", text: "#" + event.seq + " details" }), bodyTable(event)));
    return item;
  }

  /** Every field of an event, as text. */
  function bodyTable(event) {
    const table = el("table", { class: "body-table" });
    const row = (key, value) => table.append(el("tr", {}, el("td", { text: key }), el("td", { text: typeof value === "object" ? JSON.stringify(value) : value })));
    row("seq", event.seq);
    row("type", event.type);
    row("time", time(event.time_ms));
    row("received", time(event.received_ms));
    if (event.event_id) row("event id", event.event_id);
    row("identifiers", (event.identifiers || []).map((id) => id.kind + " " + (id.namespace ? id.namespace + ":" : "") + id.value).join(", "));
    for (const [key, value] of Object.entries(event.body || {})) row(key, value);
    return table;
  }

  async function moreHistory() {
    try {
      const page = await api(sitePath("/persons/" + state.person.person_id + "/history" + historyQuery(state.cursor)));
      renderHistory(page);
    } catch (error) {
      showError(error);
    }
  }

  async function reloadHistory() {
    if (!state.person) return;
    try {
      const page = await api(sitePath("/persons/" + state.person.person_id + "/history" + historyQuery("")));
      clear($("timeline"));
      renderHistory(page);
    } catch (error) {
      showError(error);
    }
  }

  // MARK: Changes to this person

  /**
   * The site's change feed, scanned for this person's changes: those naming
   * its id, and merges caused by the events that link its identifiers.
   */
  async function loadChanges(fromStart) {
    const list = $("changes");
    if (fromStart) {
      clear(list);
      state.feedCursor = 0;
    }
    const id = state.person.person_id;
    const causes = new Set(state.graph.links.map((link) => link.event_seq));
    let scanned = 0;
    let more = true;
    try {
      for (let page = 0; page < FEED_PAGES_MAX && more; page++) {
        const feed = await api("/api/v1/changes" + query({ site: state.site, cursor: state.feedCursor, limit: 1000 }));
        scanned += feed.changes.length;
        more = feed.changes.length > 0 && feed.cursor !== state.feedCursor;
        state.feedCursor = feed.cursor;
        for (const change of feed.changes) {
          const mine = change.winner === id || change.loser === id || (change.split_into || []).includes(id) || (change.kind === "merge" && causes.has(change.cause_event));
          if (mine) list.append(changeItem(change));
        }
      }
    } catch (error) {
      showError(error);
      return;
    }
    const status = $("changes-status");
    clear(status);
    status.append(list.children.length + " changes found in " + scanned + " scanned" + (more ? "; the feed goes on " : ""));
    if (more) status.append(el("button", { class: "small", type: "button", text: "scan further", onclick: () => loadChanges(false) }));
  }

  function changeItem(change) {
    let text;
    if (change.kind === "merge") text = "merged person #" + change.loser + " into #" + change.winner;
    else if (change.kind === "split") text = "split #" + change.winner + (change.split_into ? " into #" + change.split_into.join(", #") : "");
    else text = "erased #" + change.winner;
    if (change.reason !== "unspecified") text += " (" + change.reason.replace(/_/g, " ") + ")";
    text += change.cause_event ? ", caused by event #" + change.cause_event : ", by request";
    return el("li", { "data-kind": change.kind }, el("span", { class: "when", text: time(change.time_ms) + " · #" + change.seq + " " }), text);
  }

  // MARK: Admin actions, each confirmed

  function confirmAction(text, withReason) {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-reason-label").hidden = !withReason;
    $("confirm-reason").value = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? { reason: $("confirm-reason").value } : null), { once: true });
      dialog.showModal();
    });
  }

  function showOutcome(title, record) {
    const box = $("outcome");
    box.hidden = false;
    const text = $("outcome-text");
    text.textContent = title + "\n" + JSON.stringify(record, null, 2);
    // A repair lists the persons after it; the (un)quarantined identifier's
    // own node is one of them when it stands alone, said apart.
    const own = record.identifier_node;
    const persons = (record.person_ids || []).filter((id) => id !== own);
    if (persons.length) {
      const links = el("p", { class: "persons" }, persons.length + " person" + (persons.length > 1 ? "s" : "") + " now: ");
      for (const id of persons) links.append(el("button", { class: "small", type: "button", "data-person": id, text: "#" + id, onclick: () => openPerson(id) }), " ");
      text.append(links);
    }
    if ((record.person_ids || []).includes(own)) {
      text.append(el("p", { class: "muted" }, "The identifier itself is person #" + own + ", on its own. ",
        el("button", { class: "small", type: "button", text: "open #" + own, onclick: () => openPerson(own) })));
    }
    box.scrollIntoView({ block: "nearest" });
    return persons;
  }

  async function repair(action, stored) {
    const verb = action === "quarantine" ? "Quarantine" : "Unquarantine";
    const consequence = action === "quarantine"
      ? " It will link nothing from now on, and its person is re-derived without it (this may split the person)."
      : " Its events will link it again (this may merge persons).";
    const answer = await confirmAction(verb + " " + stored.kind + " " + stored.value + " in site " + state.site + "?" + consequence, action === "quarantine");
    if (!answer) return;
    try {
      const body = requestIdentifier(stored);
      if (action === "quarantine" && answer.reason) body.reason = answer.reason;
      const record = await api(sitePath("/" + action), { method: "POST", body });
      const persons = showOutcome(verb + (record.changed ? "d" : ": nothing to do (already so)"), record);
      const current = state.person && persons.includes(state.person.person_id) ? state.person.person_id : persons[0];
      if (current) await openPerson(current);
    } catch (error) {
      showError(error);
    }
  }

  async function forgetPerson() {
    const person = state.person;
    const first = (person.identifiers || []).find((identifier) => !identifier.quarantined);
    if (!first) return;
    const answer = await confirmAction("Erase person #" + person.person_id + " of site " + state.site + " — " + person.identifier_count + " identifiers and " + person.event_count + " events — for good? Only counts and a hash stay.", false);
    if (!answer) return;
    try {
      const record = await api(sitePath("/forget"), { method: "POST", body: requestIdentifier(first) });
      showOutcome("Erased", record);
      $("person").hidden = true;
      state.person = null;
      location.hash = "";
    } catch (error) {
      showError(error);
    }
  }

  // MARK: Start

  function fromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const site = Number(params.get("site")), person = Number(params.get("person"));
    return { site, person };
  }

  async function start() {
    $("access").addEventListener("submit", (event) => event.preventDefault());
    $("token").addEventListener("change", async () => {
      state.token = $("token").value.trim();
      sessionStorage.setItem("stitch.token", state.token);
      await loadAccess();
      scheduleSearch();
    });
    $("site").addEventListener("change", () => { readSite(); scheduleSearch(); });
    $("site-number").addEventListener("change", () => { readSite(); scheduleSearch(); });
    $("search").addEventListener("input", scheduleSearch);
    $("more").addEventListener("click", moreHistory);
    $("model").addEventListener("change", reloadHistory);
    $("forget").addEventListener("click", forgetPerson);
    const wanted = fromHash();
    if (wanted.site) state.site = wanted.site;
    await loadAccess();
    if (wanted.site && wanted.person) await openPerson(wanted.person);
    document.body.setAttribute("data-ready", "1");
  }

  start();
})();
