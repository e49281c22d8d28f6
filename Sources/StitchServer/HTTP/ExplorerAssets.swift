import Hummingbird
import NIOCore

/// The profile explorer (`explorer/`): plain HTML, CSS and JavaScript with
/// no build step, embedded at build time by `ops/embed-explorer.sh` and
/// served at `GET /explorer/` on the internal port. The page talks to the
/// JSON API only.
enum ExplorerAssets {
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let body: ByteBuffer
    }

    static let assets: [Asset] = [
        Asset(path: "/explorer", contentType: "text/html; charset=utf-8", body: ByteBuffer(string: index)),
        Asset(path: "/explorer/explorer.js", contentType: "text/javascript; charset=utf-8", body: ByteBuffer(string: script)),
        Asset(path: "/explorer/explorer.css", contentType: "text/css; charset=utf-8", body: ByteBuffer(string: style)),
    ]

    static func add(to router: Router<PeerRequestContext>) {
        for asset in assets {
            router.get(RouterPath(asset.path)) { _, _ in
                // Revalidated on every load: a new binary serves a new page.
                Response(
                    status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: asset.body))
            }
        }
        router.get("/") { _, _ in
            Response(status: .seeOther, headers: [.location: "/explorer/"])
        }
    }
}
