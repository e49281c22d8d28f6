import Foundation
import StitchHooks

/// The recorded sample payloads in `Payloads/`, written from each provider's
/// public documentation.
enum Payload {
    static func bytes(_ name: String) -> [UInt8] {
        let url = Bundle.module.url(forResource: "Payloads/" + name, withExtension: nil)!
        return Array(try! Data(contentsOf: url))
    }

    static func text(_ name: String) -> String { String(decoding: bytes(name), as: UTF8.self) }

    /// The arrival time given to adapters, which dates events the payload does not date.
    static let receivedMs: Int64 = 1_795_437_000_000
}
