import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOSSL
import StitchClient

/// Cluster mode: the tracker's `GET /v1/lease` (and its renewals) reached a
/// node that is not the partition's lease node; it is sent on to that
/// node's intake, naming the browser in X-Forwarded-For (trusted there
/// because it comes from a cluster member with `X-Stitch-Forwarded`), so
/// the per-address bound and crawler rules apply as if the browser had
/// come straight.
final class LeaseForwarder: Sendable {
    /// Marks a request one node forwarded to another (never forwarded again).
    static let forwardedHeader = HTTPField.Name("X-Stitch-Forwarded")!

    private let client: HTTPClient
    private let node: String
    /// `https` when the peers' intake takes TLS (`cluster_peer_ca_file`).
    private let scheme: String

    init(node: String, tls: TLSClientSettings? = nil) {
        self.node = node
        guard let tls else {
            client = HTTPClient(eventLoopGroupProvider: .singleton)
            scheme = "http"
            return
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile = tls.caFile { configuration.trustRoots = .file(caFile) }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: configuration))
        scheme = "https"
    }

    /// The lease node's answer: status, content type and body.
    func forward(
        query: String, to member: ClusterMember, client address: String, userAgent: String?, origin: String?
    ) async -> (status: HTTPResponse.Status, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "\(scheme)://\(member.host):\(member.intake)/v1/lease?\(query)")
        request.headers.add(name: "X-Forwarded-For", value: address)
        request.headers.add(name: Self.forwardedHeader.rawName, value: node)
        if let userAgent { request.headers.add(name: "User-Agent", value: userAgent) }
        if let origin { request.headers.add(name: "Origin", value: origin) }
        do {
            let response = try await client.execute(request, timeout: .seconds(2))
            let body = try await response.body.collect(upTo: 64 << 10)
            return (HTTPResponse.Status(code: Int(response.status.code)), body)
        } catch {
            return (.serviceUnavailable, ByteBuffer(string: #"{"error":"the lease node \#(member.node) did not answer; try again"}"#))
        }
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
