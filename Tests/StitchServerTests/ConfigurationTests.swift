import Foundation
import StitchHooks
@testable import StitchServer
import StitchTesting
import Testing

@Suite("Server configuration")
struct ConfigurationTests {
    @Test("defaults work on a fresh machine: local data, loopback, 7070/7071/7072, log durability (sync in cluster mode)")
    func defaults() throws {
        let configuration = ServerConfiguration()
        #expect(configuration.dataDirectory == "./stitch-data")
        #expect(configuration.host == "127.0.0.1")
        let ports: [Int] = [configuration.ingestPort, configuration.queryPort, configuration.httpPort]
        #expect(ports == [7070, 7071, 7072])
        #expect(configuration.durability == .log)
        #expect(configuration.tokens.isEmpty)
        try configuration.validate()
        // A cluster replica's log is the stream: unless set, it syncs its store.
        var node = configuration
        node.clusterNATSURLs = "nats://127.0.0.1:4222"
        node.shards = 2
        #expect(node.durability == .sync)
        try node.validate()
        node.durability = .nosync
        #expect(node.durability == .nosync)
    }

    @Test("ack_after: commit unless set; log is taken by name, and refused without a group log or in a cluster")
    func ackAfter() throws {
        var configuration = ServerConfiguration()
        #expect(configuration.ackAfter == .commit)
        try ConfigurationKey.applyAssignment("ack_after=log", to: &configuration)
        #expect(configuration.ackAfter == .log)
        try configuration.validate()
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("ack_after=apply", to: &configuration) }
        configuration.durability = .sync
        #expect(throws: ConfigurationError.invalidValue(
            key: "ack_after", value: "", reason: "log needs durability = log (the group log is what the ack promises)")
        ) { try configuration.validate() }
        var node = ServerConfiguration()
        node.clusterNATSURLs = "nats://127.0.0.1:4222"
        node.shards = 2
        node.ackAfter = .log
        #expect(throws: ConfigurationError.invalidValue(
            key: "ack_after", value: "", reason: "log is for a single node (a cluster acks once the JetStream log has a batch already)")
        ) { try node.validate() }
        configuration.durability = .log
        configuration.applyBacklogBeaconsMax = 100
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }

    @Test("one address per listener: the public ones follow host, the query and internal HTTP ports stay on loopback unless set")
    func listenerAddresses() throws {
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyAssignment("host=0.0.0.0", to: &configuration)
        #expect(configuration.bindHost(.ingest) == "0.0.0.0" && configuration.bindHost(.intake) == "0.0.0.0")
        #expect(configuration.bindHost(.query) == "127.0.0.1" && configuration.bindHost(.http) == "127.0.0.1")
        try ConfigurationKey.applyAssignment("intake_host=10.0.0.5", to: &configuration)
        try ConfigurationKey.applyAssignment("query_host=10.0.0.6", to: &configuration)
        #expect(configuration.bindHost(.intake) == "10.0.0.5" && configuration.bindHost(.query) == "10.0.0.6")
        try configuration.validate()
        // A cluster node others reach at a real address must not keep its query port on loopback.
        var node = ServerConfiguration()
        node.clusterNATSURLs = "nats://10.0.0.1:4222"
        node.shards = 2
        node.clusterAdvertiseHost = "10.0.0.7"
        #expect(throws: ConfigurationError.self) { try node.validate() }
        node.queryHost = "0.0.0.0"
        try node.validate()
        // A replica's log is the JetStream stream: no group log of its own.
        node.durability = .log
        #expect(throws: ConfigurationError.invalidValue(
            key: "durability", value: "", reason: "a cluster replica's log is the JetStream stream: sync or nosync")
        ) { try node.validate() }
    }

    @Test("the example's placeholder secrets (change-me…) stop the start, named; real ones do not")
    func placeholderSecretsAreRefused() throws {
        var configuration = ServerConfiguration()
        configuration.tokens = [TokenGrant(token: "Change-Me-Admin", sites: [], name: "admin")]
        #expect(throws: ConfigurationError.invalidValue(
            key: "tokens", value: "admin",
            reason: "the token named 'admin' is the example's placeholder (change-me…); put a secret of your own, e.g. `openssl rand -hex 24`")
        ) { try configuration.validate() }
        configuration.tokens = [TokenGrant(token: "9f2c41d07be3a8c6", sites: [], name: "admin")]
        try configuration.validate()
        var hooks = WebhookSettings()
        hooks.jivoToken = "change-me-jivo"
        configuration.webhooks = [3: hooks]
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }

    @Test("file < environment < flags; unknown names and bad values are refused by name")
    func precedence() throws {
        let directory = try TemporaryDirectory("stitch-config")
        defer { directory.remove() }
        let file = directory.appending("stitch.json")
        try Data("""
            {"_comment": "test", "ingest_port": 9000, "query_port": 9001, "durability": "nosync",
             "tokens": [{"token": "t1", "sites": [3, 4], "name": "reports"}, {"token": "root", "admin": true}]}
            """.utf8).write(to: URL(fileURLWithPath: file))
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyFile(file, to: &configuration)
        try ConfigurationKey.applyEnvironment(["STITCH_QUERY_PORT": "9101", "PATH": "/bin", "STITCH_TEST_SEED": "1"], to: &configuration)
        try ConfigurationKey.applyAssignment("ingest_port=9200", to: &configuration)
        #expect(configuration.ingestPort == 9200)
        #expect(configuration.queryPort == 9101)
        #expect(configuration.durability == .nosync)
        #expect(configuration.tokens == [TokenGrant(token: "t1", sites: [3, 4], name: "reports"), TokenGrant(token: "root", sites: [])])

        #expect(throws: ConfigurationError.unknownKey("STITCH_INGEST_PROT", source: "the environment")) {
            try ConfigurationKey.applyEnvironment(["STITCH_INGEST_PROT": "1"], to: &configuration)
        }
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("durability=fast", to: &configuration) }
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("query_port=x", to: &configuration) }
        configuration.ingestPort = 70_000
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }

    @Test("junk phones per site are normalized into the graph's rules; a bad phone is refused by name")
    func junkPhones() throws {
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyAssignment("junk_phones=1=8 (495) 000-00-01,+74951112233;2=+7 495 000-00-02", to: &configuration)
        let graph = try configuration.graphConfiguration()
        #expect(graph.rules(for: 1).junk.phones.isSuperset(of: ["+74950000001", "+74951112233"]))
        #expect(graph.rules(for: 2).junk.phones.contains("+74950000002"))
        #expect(!graph.rules(for: 3).junk.phones.contains("+74950000002"))
        try ConfigurationKey.applyAssignment("junk_phones=1=call us", to: &configuration)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }

    @Test("a site's own domains and referral exclusions: SITE=domain,domain; a URL or a bare word is refused by name")
    func siteDomains() throws {
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyAssignment("site_domains=7=Shop.example, shop-pay.example;8=other.example", to: &configuration)
        try ConfigurationKey.applyAssignment("referral_exclusions=7=bnpl.example", to: &configuration)
        #expect(configuration.siteDomains == [7: ["shop.example", "shop-pay.example"], 8: ["other.example"]])
        #expect(configuration.referralExclusions == [7: ["bnpl.example"]])
        for bad in ["site_domains=7=https://shop.example", "site_domains=7=localhost", "referral_exclusions=x=pay.example"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ConfigurationKey.applyAssignment(bad, to: &configuration) }
        }
    }

    @Test("tokens from one string: TOKEN=SITES;TOKEN=*")
    func tokenString() throws {
        var configuration = ServerConfiguration()
        try ConfigurationKey.applyAssignment("tokens=abc=1,2;admin=*", to: &configuration)
        #expect(configuration.tokens.map(\.sites) == [[1, 2], []])
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("tokens=abc=0", to: &configuration) }
        #expect(throws: ConfigurationError.self) { try ConfigurationKey.applyAssignment("tokens=abc", to: &configuration) }
    }

    @Test("a token grant is admin only when it says so; every malformed grant stops the start, named", arguments: [
        #"{"token": "t", "sites": 1, "name": "n"}"#,
        #"{"token": "t", "sites": "1", "name": "n"}"#,
        #"{"token": "t", "sites": [], "name": "n"}"#,
        #"{"token": "t", "site": [1], "name": "n"}"#,
        #"{"token": "t", "name": "n"}"#,
        #"{"token": "t", "sites": [0], "name": "n"}"#,
        #"{"token": "t", "sites": [true], "name": "n"}"#,
        #"{"token": "t", "admin": 1, "name": "n"}"#,
        #"{"token": "t", "admin": true, "sites": [1], "name": "n"}"#,
    ])
    func malformedTokenGrantsAreRefused(grant: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(grant.utf8)) as! [String: Any]
        do {
            _ = try ConfigurationKey.tokenGrant(object)
            Issue.record("accepted \(grant)")
        } catch {
            #expect("\(error)".contains("token \"n\""), "the message names the grant: \(error)")
        }
    }

    @Test("admin grants: \"admin\": true or \"sites\": \"*\"; site grants list sites")
    func explicitGrants() throws {
        func grant(_ text: String) throws -> TokenGrant {
            try ConfigurationKey.tokenGrant(JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any])
        }
        #expect(try grant(#"{"token": "a", "admin": true}"#).sites.isEmpty)
        #expect(try grant(#"{"token": "a", "sites": "*"}"#).sites.isEmpty)
        #expect(try grant(#"{"token": "a", "sites": [2, 5]}"#).sites == [2, 5])
    }
}
