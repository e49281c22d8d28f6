import Foundation

/// Shop pages for the tracker tests in Chromium, made from the request's
/// query: which tracker options the script tag carries and what the page
/// holds. Options: `consent` (data-consent), `numbers` (data-numbers),
/// `selector` (data-number-selector, default `.phone` unless `numbers` is
/// given), `head` (a script run before the tracker), `body` (the markup).
enum BrowserShop {
    static let page: ShopServer.Page = { query, intakePort in
        var attributes = [#"data-site="1""#]
        if let consent = query["consent"] { attributes.append(#"data-consent="\#(consent)""#) }
        if let numbers = query["numbers"] { attributes.append(#"data-numbers="\#(numbers)""#) }
        let selector = query["selector"] ?? (query["numbers"] == nil ? ".phone" : "")
        if !selector.isEmpty { attributes.append(#"data-number-selector="\#(selector)""#) }
        let body = bodies[query["body"] ?? "phone"] ?? ""
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
            <script>\(heads[query["head"] ?? ""] ?? "")</script>
            <script async src="http://127.0.0.1:\(intakePort)/v1/stitch.js" \(attributes.joined(separator: " "))></script>
            </head><body>\(body)</body></html>
            """
    }

    /// Scripts run before the tracker loads.
    static let heads: [String: String] = [
        "": "",
        // The page is being prerendered until the test activates it.
        "prerender": """
            Object.defineProperty(document, "prerendering", { get: () => !window.__activated, configurable: true });
            window.__activate = () => { window.__activated = true; document.dispatchEvent(new Event("prerenderingchange")); };
            """,
        // A host-only visitor id left by an earlier tracker on this host.
        "old-cookie": #"document.cookie = "_stitch_id=" + (new URLSearchParams(location.search).get("old")) + "; path=/";"#,
    ]

    static let bodies: [String: String] = [
        "phone": #"<p>Call us: <a class="phone" href="tel:+74950000001">+7 (495) 000-00-01</a></p>"#,
        "none": "<p>No phone here.</p>",
        // A header an SPA renders 1.5 s after load, and a modal built on click.
        "late": """
            <div id="app"></div><button id="open">Call me back</button>
            <script>
              setTimeout(() => { document.getElementById("app").innerHTML = '<header>Call <a href="tel:+74950000000">+7 (495) 000-00-00</a></header>'; }, 1500);
              document.getElementById("open").addEventListener("click", () => {
                const modal = document.createElement("div");
                modal.id = "modal";
                modal.innerHTML = "<p>We will call you, or call us: 8 (495) 000-00-00</p>";
                document.body.appendChild(modal);
              });
            </script>
            """,
        // The site's phone in three writings, in text and a tel: link, no markup.
        "text": """
            <p id="a">Sales: +7 495 000-00-00</p><p id="b">Office: 8 (495) 000-00-00, fax +7 495 111-11-11</p>
            <p id="c">Call <a id="link" href="tel:84950000000">84950000000</a></p>
            """,
        // The header re-rendered ten times, as some frameworks do.
        "rerender": """
            <header id="header"></header>
            <script>
              let renders = 0;
              const render = () => { document.getElementById("header").innerHTML = "<span>+7 (495) 000-00-00</span>"; if (++renders < 10) setTimeout(render, 150); };
              render();
            </script>
            """,
        // 5,000 nodes, then bursts of 100 new nodes, some with the phone.
        "big": """
            <div id="big"></div>
            <script>
              const big = document.getElementById("big");
              for (let i = 0; i < 2500; i++) { const p = document.createElement("p"); p.textContent = "Item " + i; big.appendChild(p); }
              window.__burst = () => {
                const box = document.createElement("section");
                for (let i = 0; i < 100; i++) { const p = document.createElement("p"); p.textContent = i % 10 === 0 ? "Call +7 495 000-00-00" : "Line " + i; box.appendChild(p); }
                big.appendChild(box);
              };
            </script>
            """,
    ]
}
