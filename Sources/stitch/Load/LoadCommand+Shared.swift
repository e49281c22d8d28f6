import StitchClient
import StitchWire

extension LoadCommand {
    /// How many identifiers each site has quarantined, and why.
    func printShared(_ client: QueryClient) async throws {
        var lines: [String] = []
        for site in 1...UInt32(max(1, sites)) {
            let shared = try await client.shared(site: site, limit: 10_000).identifiers
            guard !shared.isEmpty else { continue }
            var bySource: [String: Int] = [:]
            for entry in shared {
                let source = entry.source == .automatic ? "automatic (\(entry.links) links)" : "\(entry.source)"
                bySource[source, default: 0] += 1
            }
            let kinds = Set(shared.map { Render.kindName($0.identifier.kind) }).sorted().joined(separator: ", ")
            lines.append("site \(site): \(shared.count) \(kinds) — " + bySource.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        print("shared    " + (lines.isEmpty ? "no identifier quarantined" : lines.joined(separator: "; ")))
    }
}
