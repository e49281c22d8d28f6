import NIOCore
import StitchWire

/// The browser tracker (`tracker/stitch.js`) as `GET /v1/stitch.js` serves
/// it: embedded at build time (`ops/embed-tracker.sh`), with a strong ETag so
/// browsers revalidate cheaply after its hour of caching.
enum TrackerScript {
    static let body = ByteBuffer(string: source)
    /// CRC-32 of the script: changes whenever the tracker does.
    static let etag = "\"" + String(body.withUnsafeReadableBytes { CRC32.checksum($0) }, radix: 16) + "\""
}
