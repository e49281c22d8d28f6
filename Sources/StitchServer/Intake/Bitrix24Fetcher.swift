import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import StitchHooks
import StitchWire

/// Fetches the leads and deals Bitrix24's outbound webhooks only name, from
/// each site's inbound REST webhook (`rest_url`), after the provider has been
/// answered: `crm.lead.get` / `crm.deal.get`, then `crm.contact.get` for its
/// contact, each with a timeout; then stores what they say through the
/// intake's path (`Bitrix24Adapter.beacons`).
///
/// Nothing is lost while a portal is down or slow: every pending fetch is kept
/// in `<data_dir>/bitrix24-pending.json` (rewritten on each change, so it
/// outlives a restart) and retried with backoff — 2 s doubling to 10 minutes,
/// for at most `attemptsMax` attempts (about five hours at the default), then
/// dropped, logged and counted. An entity the portal says does not exist is
/// dropped at once. At most `jobsMax` fetches wait; beyond that the webhook is
/// answered 503 so the portal's own retry comes back later.
actor Bitrix24Fetcher {
    struct Job: Codable, Equatable {
        var fetch: Bitrix24Fetch
        var attempts: Int
        var dueMs: Int64
    }

    /// Timeouts and backoff (tests shorten them).
    struct Timing: Sendable, Equatable {
        var requestTimeout: TimeAmount = .seconds(10)
        var backoffFirstMs: Int64 = 2_000
        var backoffMaxMs: Int64 = 10 * 60_000
        var attemptsMax = 40
        var pollInterval: Duration = .milliseconds(500)
    }

    static let jobsMax = 10_000
    static let responseBytesMax = 1 << 20
    static let fileName = "bitrix24-pending.json"

    private var jobs: [Job]
    private let path: String
    private let restURLs: [UInt32: String]
    private let client: HTTPClient
    /// Stores beacons through the intake; true once committed (or repeats).
    private let store: @Sendable ([Stitch_V1_Beacon]) async -> Bool
    private let metrics: ServerMetrics
    private let logger: Logger
    private let clockMs: @Sendable () -> Int64
    private let timing: Timing
    private var loop: Task<Void, Never>?

    init(
        dataDirectory: String, restURLs: [UInt32: String], store: @escaping @Sendable ([Stitch_V1_Beacon]) async -> Bool,
        metrics: ServerMetrics, logger: Logger, clockMs: @escaping @Sendable () -> Int64, timing: Timing = Timing()
    ) {
        path = (dataDirectory as NSString).appendingPathComponent(Self.fileName)
        self.restURLs = restURLs
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.clockMs = clockMs
        self.timing = timing
        client = HTTPClient(eventLoopGroupProvider: .singleton)
        if let data = FileManager.default.contents(atPath: path), let kept = try? JSONDecoder().decode([Job].self, from: data) {
            jobs = kept
            if !kept.isEmpty { logger.notice("\(kept.count) Bitrix24 fetches were pending at the last stop; retrying them") }
        } else {
            jobs = []
        }
    }

    /// Fetches waiting now.
    var pending: Int { jobs.count }

    /// Queues `fetches` (kept on disk before this returns); false when full.
    func enqueue(_ fetches: [Bitrix24Fetch]) -> Bool {
        guard jobs.count + fetches.count <= Self.jobsMax else { return false }
        let now = clockMs()
        for fetch in fetches where !jobs.contains(where: { $0.fetch == fetch }) {
            jobs.append(Job(fetch: fetch, attempts: 0, dueMs: now))
        }
        persist()
        return true
    }

    func start() {
        guard loop == nil else { return }
        loop = Task { [weak self] in
            while !Task.isCancelled {
                await self?.runDue()
                try? await Task.sleep(for: self?.timing.pollInterval ?? .seconds(1))
            }
        }
    }

    func stop() async {
        loop?.cancel()
        loop = nil
        try? await client.shutdown()
    }

    /// Attempts every job that is due, one at a time.
    func runDue() async {
        let now = clockMs()
        for job in jobs where job.dueMs <= now {
            let outcome = await attempt(job.fetch)
            guard let index = jobs.firstIndex(where: { $0.fetch == job.fetch }) else { continue }
            switch outcome {
            case .stored:
                jobs.remove(at: index)
                count("stored")
            case .drop(let reason):
                jobs.remove(at: index)
                count("dropped")
                logger.warning("Bitrix24 fetch dropped", metadata: ["site": "\(job.fetch.site)", "entity": "\(job.fetch.entity.rawValue)", "id": "\(job.fetch.id)", "reason": "\(reason)"])
            case .retry(let reason):
                jobs[index].attempts += 1
                if jobs[index].attempts >= timing.attemptsMax {
                    jobs.remove(at: index)
                    count("dropped")
                    logger.error("Bitrix24 fetch given up after \(timing.attemptsMax) attempts", metadata: ["site": "\(job.fetch.site)", "id": "\(job.fetch.id)", "reason": "\(reason)"])
                } else {
                    let backoff = min(timing.backoffMaxMs, timing.backoffFirstMs << min(jobs[index].attempts - 1, 20))
                    jobs[index].dueMs = clockMs() + backoff
                    count("retried")
                    logger.info("Bitrix24 fetch failed; retrying", metadata: ["site": "\(job.fetch.site)", "id": "\(job.fetch.id)", "reason": "\(reason)", "in_ms": "\(backoff)"])
                }
            }
            persist()
        }
    }

    enum Outcome: Equatable {
        case stored
        case retry(String)
        case drop(String)
    }

    private func attempt(_ fetch: Bitrix24Fetch) async -> Outcome {
        guard let base = restURLs[fetch.site] else { return .drop("site \(fetch.site) has no bitrix24 rest_url any more") }
        do {
            guard let entity = try await get(base, fetch.method, id: fetch.id) else { return .drop("\(fetch.method) \(fetch.id): not found") }
            var contact: [String: Any]?
            if let contactID = Bitrix24Adapter.contactID(of: entity) {
                contact = try await get(base, "crm.contact.get", id: contactID)
            }
            let beacons = Bitrix24Adapter.beacons(of: fetch, entity: entity, contact: contact, receivedMs: clockMs())
            return await store(beacons) ? .stored : .retry("the store could not commit")
        } catch {
            return .retry("\(error)")
        }
    }

    struct PortalError: Error, CustomStringConvertible {
        let description: String
    }

    /// `result` of `METHOD.json?id=ID`; nil when the portal says there is no such entity.
    private func get(_ base: String, _ method: String, id: String) async throws -> [String: Any]? {
        let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
        let request = HTTPClientRequest(url: base + method + ".json?id=" + encoded)
        let response = try await client.execute(request, timeout: timing.requestTimeout)
        let body = try await response.body.collect(upTo: Self.responseBytesMax)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        if let error = json?["error"] as? String {
            let detail = json?["error_description"] as? String ?? ""
            if error == "NOT_FOUND" || detail.lowercased().contains("not found") { return nil }
            throw PortalError(description: "\(method): \(error) \(detail)")
        }
        guard response.status == .ok, let result = json?["result"] as? [String: Any] else {
            throw PortalError(description: "\(method): HTTP \(response.status.code)")
        }
        return result
    }

    private func persist() {
        do {
            let data = try JSONEncoder().encode(jobs)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.error("could not keep the pending Bitrix24 fetches on disk: \(error)")
        }
    }

    private func count(_ outcome: String) {
        metrics.counter(.webhookFetches, [("provider", Bitrix24Adapter.provider), ("outcome", outcome)]).increment()
    }
}
