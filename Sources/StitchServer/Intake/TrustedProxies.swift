import Glibc
import NIOCore

/// The reverse proxies (`trusted_proxies`, CIDRs) whose `X-Forwarded-For`
/// (or, without it, standard `Forwarded: for=…`, RFC 7239) names the real client. Behind a proxy every browser shares the proxy's
/// address, so the intake's per-address bounds (rate, numbers held) need the
/// address the proxy saw. The header is believed only from a trusted peer,
/// and read from the right: the first address that is not a trusted proxy is
/// the client (a client can put anything at the left of it).
struct TrustedProxies: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        let bytes: [UInt8]  // 4 (IPv4) or 16 (IPv6)
        let prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var bits = prefix
            for (a, b) in zip(address, bytes) where bits > 0 {
                let mask: UInt8 = bits >= 8 ? 0xff : ~(0xff >> UInt8(bits))
                if a & mask != b & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    let networks: [Network]

    init(_ networks: [Network] = []) {
        self.networks = networks
    }

    /// `10.0.0.0/8,::1/128,192.168.1.7` (a bare address is one host).
    static func parse(_ text: String) -> TrustedProxies? {
        var networks: [Network] = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.bytes(of: parts[0]) else { return nil }
            let prefix = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
            guard let prefix, (0...(bytes.count * 8)).contains(prefix) else { return nil }
            networks.append(Network(bytes: bytes, prefix: prefix))
        }
        return TrustedProxies(networks)
    }

    var text: String {
        networks.map { network in
            var buffer = [CChar](repeating: 0, count: 64)
            let family = network.bytes.count == 4 ? AF_INET : AF_INET6
            _ = network.bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
            return String(nulTerminated: buffer) + "/\(network.prefix)"
        }.joined(separator: ",")
    }

    /// The client's address: the peer's, or, from a trusted proxy, the
    /// rightmost `X-Forwarded-For` entry (else `Forwarded` `for=` entry)
    /// that is not a trusted proxy.
    func client(peer: String, forwardedFor: String?, forwarded: String? = nil) -> String {
        guard !networks.isEmpty, isTrusted(peer) else { return peer }
        let hops: [String]
        if let forwardedFor {
            hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else if let forwarded {
            guard let named = Self.forwardedHops(forwarded) else { return peer }
            hops = named
        } else {
            return peer
        }
        for address in hops.reversed() {
            guard Self.bytes(of: address) != nil else { return peer }  // garbage or obfuscated: believe nothing
            if !isTrusted(address) { return address }
        }
        return peer
    }

    /// The `for=` addresses of a `Forwarded` header, first hop first:
    /// `for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"` gives
    /// 192.0.2.60 and 2001:db8::1 (quotes, brackets and ports dropped).
    /// nil when an element has no `for=`.
    static func forwardedHops(_ header: String) -> [String]? {
        var hops: [String] = []
        for element in header.split(separator: ",") {
            let pairs = element.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let value = pairs.first(where: { $0.lowercased().hasPrefix("for=") })?.dropFirst(4) else { return nil }
            var node = String(value.filter { $0 != "\"" })
            if node.hasPrefix("[") {
                node = String(node.dropFirst().prefix { $0 != "]" })  // [v6] or [v6]:port
            } else if node.filter({ $0 == ":" }).count == 1 {
                node = String(node.prefix { $0 != ":" })  // v4:port
            }
            hops.append(node)
        }
        return hops
    }

    func isTrusted(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    static func bytes(of address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
