import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StitchClient
import StitchGraph
@testable import StitchServer
import StitchWire
import Testing

/// Nobody may drain the number pool through the public `GET /v1/lease`:
/// numbers go only to sessions the collector has seen, at most a few per
/// client address, never to crawlers.
@Suite("The public lease endpoint against pool drains")
struct LeaseAbuseTests {
    static func server(_ configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        try await TestServer {
            $0.numberPools = [1: try! NumberPool(.with {
                $0.dynamicNumbers = (0..<10).map { "+7495777000\($0)" }
                $0.fallbackNumber = "+74957770099"
            })]
            configure(&$0)
        }
    }

    static func lease(_ server: TestServer, session: String, headers: [String: String] = [:]) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.ports.intake)/v1/lease?site=1&session=\(session)")!)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    static func held(_ server: TestServer) async throws -> UInt32 {
        let admin = try await server.queryClient()
        defer { Task { await admin.close() } }
        guard case .poolGet(let pool) = try await admin.response(.poolGet(.with { $0.site = 1 })).get().kind else { return 99 }
        return pool.numbersHeld
    }

    @Test("30 requests with made-up session ids from one address take no number")
    func madeUpSessions() async throws {
        let server = try await Self.server()
        for index in 0..<30 {
            let answer = try await Self.lease(server, session: "made-up-session-\(index)")
            #expect(answer["kind"] as? String == "unknown_session" && answer["tracking_number"] as? String == "+74957770099")
        }
        #expect(try await Self.held(server) == 0, "all 10 numbers stay free for real visitors")
        // A real visitor, whose page view the collector stored, gets one.
        try await server.pageView(session: "real-session-0001")
        #expect(try await Self.lease(server, session: "real-session-0001")["kind"] as? String == "new")
        await server.stopAndRemove()
    }

    @Test("sessions made up with a page view each: one address holds at most lease_numbers_per_address_max numbers")
    func perAddressBound() async throws {
        let server = try await Self.server()
        var kinds: [String] = []
        for index in 0..<12 {
            try await server.pageView(session: "fake-visit-\(index)")
            kinds.append(try await Self.lease(server, session: "fake-visit-\(index)")["kind"] as? String ?? "")
        }
        #expect(kinds.filter { $0 == "new" }.count == 3, "\(kinds)")
        #expect(kinds.filter { $0 == "address_limit" }.count == 9)
        #expect(try await Self.held(server) == 3)
        // Asking again for a number it holds is not a new one.
        #expect(try await Self.lease(server, session: "fake-visit-0")["kind"] as? String == "sticky")
        await server.stopAndRemove()
    }

    @Test("the client a Forwarded header names: quotes, brackets and ports dropped; an element without for= names nobody")
    func forwardedHeader() {
        #expect(TrustedProxies.forwardedHops("for=192.0.2.60;proto=http;by=203.0.113.43") == ["192.0.2.60"])
        #expect(TrustedProxies.forwardedHops(#"For="[2001:db8:cafe::17]:4711", for=10.0.0.7:80"#) == ["2001:db8:cafe::17", "10.0.0.7"])
        #expect(TrustedProxies.forwardedHops("proto=https") == nil)
        let proxies = TrustedProxies.parse("10.0.0.0/8")!
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: nil, forwarded: "for=198.51.100.7, for=10.0.0.9") == "198.51.100.7")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: nil, forwarded: "for=_hidden") == "10.0.0.1", "an obfuscated name: the proxy")
        #expect(proxies.client(peer: "192.0.2.1", forwardedFor: nil, forwarded: "for=198.51.100.7") == "192.0.2.1", "an untrusted peer")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: "203.0.113.5", forwarded: "for=198.51.100.7") == "203.0.113.5", "X-Forwarded-For first")
    }

    @Test("behind a trusted proxy the bound is per forwarded client; an untrusted peer's header is ignored")
    func trustedProxies() async throws {
        let server = try await Self.server { try! ConfigurationKey.applyAssignment("trusted_proxies=127.0.0.1/32", to: &$0) }
        for index in 0..<6 {
            try await server.pageView(session: "proxied-\(index)")
            let answer = try await Self.lease(server, session: "proxied-\(index)", headers: ["X-Forwarded-For": "203.0.113.\(index), 127.0.0.1"])
            #expect(answer["kind"] as? String == "new", "client \(index): \(answer)")
        }
        // The standard header (RFC 7239) from a proxy that sends no X-Forwarded-For.
        for index in 6..<10 {
            try await server.pageView(session: "proxied-\(index)")
            let answer = try await Self.lease(
                server, session: "proxied-\(index)", headers: ["Forwarded": "for=\"[2001:db8::\(index)]:4711\";proto=https, for=127.0.0.1"])
            #expect(answer["kind"] as? String == "new", "client \(index): \(answer)")
        }
        let untrusted = try await Self.server()
        for index in 0..<4 {
            try await untrusted.pageView(session: "spoofing-\(index)")
            let answer = try await Self.lease(untrusted, session: "spoofing-\(index)", headers: ["X-Forwarded-For": "198.51.100.\(index)"])
            #expect((answer["kind"] as? String) == (index < 3 ? "new" : "address_limit"), "\(index): \(answer)")
        }
        await untrusted.stopAndRemove()
        await server.stopAndRemove()
    }

    @Test("crawlers get the fallback whatever their session; the rules compose")
    func crawlers() async throws {
        let server = try await Self.server()
        let googlebot = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        try await server.pageView(session: "bot-session-0001")
        for session in ["bot-session-0001", "bot-made-up-0002"] {
            let answer = try await Self.lease(server, session: session, headers: ["User-Agent": googlebot])
            #expect(answer["kind"] as? String == "crawler" && answer["tracking_number"] as? String == "+74957770099")
        }
        #expect(try await Self.held(server) == 0)
        await server.stopAndRemove()
    }
}
