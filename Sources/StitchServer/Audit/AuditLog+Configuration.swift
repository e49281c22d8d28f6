import Crypto
import Foundation

extension AuditLog {
    /// The token name of entries a start reads from the configuration.
    static let configurationTokenName = "config"

    /// Records how the retention periods and the query tokens differ from
    /// what the last start recorded: `retention_set` per site whose
    /// `retention_days` changed, `token_added` / `token_removed` /
    /// `token_changed` per grant name (its sites, or its secret: the secret
    /// itself never, only a short SHA-256 prefix kept in `meta` to notice a
    /// rotation). The first start of a store records everything configured.
    /// Returns the entries written.
    @discardableResult
    func recordConfiguration(retentionDays: [UInt32: Int], tokens: [TokenGrant], nowMs: Int64) throws -> Int {
        var written = 0
        func record(_ action: String, site: UInt32 = 0, _ arguments: KeyValuePairs<String, String>) throws {
            try begin(action: action, site: site, tokenName: Self.configurationTokenName, arguments: arguments, timeMs: nowMs, outcome: "ok")
            written += 1
        }

        let retentionKey = "retention_days"
        let before = Self.parseRecorded(try recorded(retentionKey))
        let now = Dictionary(uniqueKeysWithValues: retentionDays.map { ($0.key == 0 ? "*" : String($0.key), String($0.value)) })
        for site in Set(before.keys).union(now.keys).sorted(by: Self.siteOrder) where before[site] != now[site] {
            try record("retention_set", site: UInt32(site) ?? 0, ["site": site, "from_days": before[site] ?? "none", "to_days": now[site] ?? "none"])
        }
        if before != now { try setRecorded(retentionKey, Self.formatRecorded(now)) }

        let tokensKey = "tokens"
        let grantsBefore = Self.parseRecorded(try recorded(tokensKey))
        var grantsNow: [String: String] = [:]
        for grant in tokens {
            let secret = SHA256.hash(data: Data(grant.token.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
            grantsNow[grant.name] = "\(grant.sites.isEmpty ? "all" : grant.sites.map(String.init).joined(separator: ","))/\(secret)"
        }
        for name in Set(grantsBefore.keys).union(grantsNow.keys).sorted() where grantsBefore[name] != grantsNow[name] {
            let sites = { (value: String?) in value.map { String($0.prefix { $0 != "/" }) } ?? "none" }
            switch (grantsBefore[name], grantsNow[name]) {
            case (nil, let added?): try record("token_added", ["name": name, "sites": sites(added)])
            case (_?, nil): try record("token_removed", ["name": name])
            case (let old?, let new?):
                let what = sites(old) == sites(new) ? "secret" : "sites"
                try record("token_changed", ["name": name, "changed": what, "sites": sites(new)])
            case (nil, nil): break
            }
        }
        if grantsBefore != grantsNow { try setRecorded(tokensKey, Self.formatRecorded(grantsNow)) }
        return written
    }

    /// `*` (key 0) sorts last, sites by number.
    private static func siteOrder(_ a: String, _ b: String) -> Bool {
        (UInt32(a) ?? .max, a) < (UInt32(b) ?? .max, b)
    }

    /// One `name=value` per line, sorted (names hold no `=` or newline).
    private static func formatRecorded(_ values: [String: String]) -> String {
        values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    }

    private static func parseRecorded(_ text: String?) -> [String: String] {
        var values: [String: String] = [:]
        for line in (text ?? "").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }
}
