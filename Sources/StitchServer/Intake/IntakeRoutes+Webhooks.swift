import HTTPTypes
import Hummingbird
import NIOCore
import StitchHooks
import StitchWire

/// `/v1/hooks/PROVIDER/SITE`: a provider's webhook, mapped to beacons by its
/// `StitchHooks` adapter and stored through the same intake, queue and group
/// commit as a frame; answered (200, in the form the provider expects) only
/// after that commit, so a provider's retry covers a crash and the event ids
/// the adapter derives from the request make the retry a repeat.
///
/// Refusals: 404 no such provider for the site, 401/403 credentials, 400 a
/// body the provider would not send, 413 too large, 503 the store cannot
/// commit now (the provider retries). An event the adapter does not record,
/// and beacons refused for their content (no identifier survived), are
/// answered 200 — providers disable endpoints that keep failing — and
/// counted and logged. Every request is counted in `stitch_webhooks_total`.
extension IntakeRoutes {
    func webhook(_ request: Request, _ context: HTTPIntake.Context, subpath: String) async throws -> Response {
        let provider = context.parameters.get("provider") ?? ""
        if let refusal = admit(request, context, endpoint: "hooks") { return refusal }
        guard let site = context.parameters.get("site").flatMap({ UInt32($0) }), site > 0,
            let adapter = webhooks[site]?.adapter(for: provider)
        else {
            return refuse(
                .notFound, "no \(provider) webhook is configured for this site (providers: \(WebhookSettings.providers.joined(separator: ", ")))",
                endpoint: "hooks")
        }
        guard let body = await body(of: request) else {
            count(provider, "malformed")
            return refuse(.contentTooLarge, "the body is over \(bodyBytesMax) bytes", endpoint: "hooks")
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let hook = WebhookRequest(
            subpath: subpath,
            query: request.uri.queryParameters.reduce(into: [:]) { $0[String($1.key)] = String($1.value) },
            headers: headers, body: Array(buffer: body))
        switch adapter.verdict(for: hook, site: site, receivedMs: clockMs()) {
        case .store(let beacons, let reply):
            return try await store(beacons, reply: reply, provider: provider, site: site)
        case .fetch(let fetches, let reply):
            guard let fetcher, await fetcher.enqueue(fetches) else {
                count(provider, "unavailable")
                return refuse(.serviceUnavailable, "\(Bitrix24Fetcher.jobsMax) fetches are waiting already; send it again later", endpoint: "hooks")
            }
            count(provider, "deferred")
            return answer(reply)
        case .skip(let reason, let reply):
            count(provider, "skipped")
            logger.debug("webhook skipped", metadata: ["provider": "\(provider)", "site": "\(site)", "reason": "\(reason)"])
            return answer(reply)
        case .unauthenticated(let reason):
            count(provider, "unauthenticated")
            return refuse(.unauthorized, reason, endpoint: "hooks")
        case .forbidden(let reason):
            count(provider, "forbidden")
            logger.warning("webhook with wrong credentials", metadata: ["provider": "\(provider)", "site": "\(site)", "reason": "\(reason)"])
            return refuse(.forbidden, reason, endpoint: "hooks")
        case .malformed(let reason):
            count(provider, "malformed")
            return refuse(.badRequest, reason, endpoint: "hooks")
        }
    }

    /// Sends the beacons through the collector's path as one batch frame and
    /// answers after its commit.
    private func store(_ beacons: [Stitch_V1_Beacon], reply: WebhookReply, provider: String, site: UInt32) async throws -> Response {
        var frame = ByteBufferAllocator().buffer(capacity: 512)
        do {
            try FrameEncoder().encode(Stitch_V1_BeaconBatch.with { $0.beacons = beacons; $0.clock = .trusted }, type: .batch, sequence: 1, into: &frame)
        } catch {
            count(provider, "malformed")
            return refuse(.contentTooLarge, "the webhook's events are over the frame limit: \(error)", endpoint: "hooks")
        }
        let slots: [BatchOutcome]
        switch try await submit(frame, origin: nil, endpoint: "hooks", framesMax: 1) {
        case .answered(let outcomes):
            slots = outcomes
        case .refused(let response):  // already counted as an intake refusal
            count(provider, "malformed")
            return response
        }
        switch slots.first {
        case .committed(_, let ack):
            if ack.accepted + ack.suppressed > 0 {
                count(provider, "stored")
            } else if ack.repeated > 0 {
                count(provider, "repeated")
            } else {
                count(provider, "refused")
                logger.warning("webhook stored nothing", metadata: [
                    "provider": "\(provider)", "site": "\(site)",
                    "rejections": "\(ack.rejections.map { "\($0.reason): \($0.detail)" })",
                ])
            }
            return answer(reply)
        case .refused(_, let error):
            count(provider, "unavailable")
            return refuse(.serviceUnavailable, "\(error.code): \(error.message)", endpoint: "hooks")
        case nil:
            count(provider, "malformed")
            return refuse(.badRequest, "no events", endpoint: "hooks")
        }
    }

    /// Stores what a deferred fetch found (`Bitrix24Fetcher`), counted like
    /// a webhook; true once committed (or all repeats), false to retry.
    func storeFetched(_ beacons: [Stitch_V1_Beacon], provider: String) async -> Bool {
        guard let site = beacons.first?.site,
            let response = try? await store(beacons, reply: .ok, provider: provider, site: site)
        else { return false }
        return response.status == .ok
    }

    private func answer(_ reply: WebhookReply) -> Response {
        Response(
            status: .ok, headers: [.contentType: reply.contentType],
            body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }

    private func count(_ provider: String, _ outcome: String) {
        metrics.counter(.webhooks, [("provider", provider), ("outcome", outcome)]).increment()
    }
}
