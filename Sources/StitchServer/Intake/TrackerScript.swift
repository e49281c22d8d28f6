import Foundation
import NIOCore
import StitchWire

/// The browser tracker (`tracker/stitch.js`) as `GET /v1/stitch.js` serves
/// it: embedded at build time (`ops/embed-tracker.sh`), with the crawler
/// table (`CrawlerRules`) put in its `__CRAWLERS__` placeholder, and a strong
/// ETag so browsers revalidate cheaply after its hour of caching.
enum TrackerScript {
    static let placeholder = "__CRAWLERS__"
    static let served = source.replacingOccurrences(of: placeholder, with: CrawlerRules.javaScriptPattern)
    static let body = ByteBuffer(string: served)
    /// The same, zlib-deflated (`Content-Encoding: deflate`, which HTTP
    /// defines as the zlib format) for browsers that accept it: a third of
    /// the bytes.
    static let deflated: ByteBuffer = {
        var out = ByteBuffer()
        body.withUnsafeReadableBytes { _ = ZlibDeflater(level: 9).deflate($0, into: &out) }
        return out
    }()
    /// CRC-32 of the script: changes whenever the tracker does.
    static let etag = "\"" + String(body.withUnsafeReadableBytes { CRC32.checksum($0) }, radix: 16) + "\""
}
