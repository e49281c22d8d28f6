import Foundation
import StitchLog
import StitchTesting
import Testing

/// The replicated log against real nats-servers with JetStream (Debian's,
/// which `ops/test.sh` installs), on loopback ports of their own.
@Suite("JetStream log")
struct JetStreamLogTests {
    /// Connects once the servers listen and JetStream answers (a cluster
    /// elects its meta leader first), with the stream made.
    static func connect(_ cluster: NATSCluster, replicas: Int = 1) async throws -> JetStreamLog {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                let log = try JetStreamLog(urls: cluster.urls, name: "test")
                try log.ensureStream("STITCH_P0", subjects: ["stitch.p0"], replicas: replicas)
                return log
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    @Test("published entries come back in order by sequence; a repeated message id is JetStream's duplicate", .timeLimit(.minutes(1)))
    func publishAndRead() async throws {
        let cluster = try NATSCluster()
        defer { cluster.stop() }
        let log = try await Self.connect(cluster)
        var sequences: [UInt64] = []
        for index in 0..<20 {
            let ack = try log.publish(subject: "stitch.p0", data: Array("entry \(index)".utf8), messageID: "node-a/\(index)")
            #expect(!ack.duplicate)
            sequences.append(ack.sequence)
        }
        #expect(sequences == Array(1...20))
        let again = try log.publish(subject: "stitch.p0", data: Array("entry 1".utf8), messageID: "node-a/1")
        #expect(again.duplicate && again.sequence == 2, "a resend with the same id is not stored twice")
        // Async: many at once, each with its own outcome and sequence.
        let batch = (20..<120).map { JetStreamLog.Message(subject: "stitch.p0", data: Array("entry \($0)".utf8), id: "node-a/\($0)") }
        let results = log.publishAll(batch, waitMs: 5000)
        #expect(try results.map { try $0.get().sequence } == Array(21...120))
        #expect(try log.state(of: "STITCH_P0") == .init(first: 1, last: 120))
        let message = try #require(try log.read(stream: "STITCH_P0", sequence: 37))
        #expect(message.data == Array("entry 36".utf8))
        #expect(try log.read(stream: "STITCH_P0", sequence: 121) == nil)
        // A reader from any sequence gets the rest, in order, then nothing.
        let reader = try log.reader(stream: "STITCH_P0", subject: "stitch.p0", from: 100)
        var read: [(sequence: UInt64, data: [UInt8])] = []
        while read.count < 21 {
            let fetched = try reader.fetch(max: 8, waitMs: 2000)
            #expect(!fetched.isEmpty)
            if fetched.isEmpty { break }
            read += fetched
        }
        #expect(read.map(\.sequence) == Array(100...120))
        #expect(read.last?.data == Array("entry 119".utf8))
        #expect(try reader.fetch(max: 8, waitMs: 100).isEmpty)
        // A second connection (another node) sees the same stream.
        let other = try JetStreamLog(urls: cluster.urls)
        #expect(try other.state(of: "STITCH_P0").last == 120)
    }

    @Test("a server that is not there is a clear error")
    func noServer() throws {
        let port = try LoopbackPort.free()
        #expect(throws: JetStreamLog.Failure.self) {
            _ = try JetStreamLog(urls: "nats://127.0.0.1:\(port)", timeoutMs: 500)
        }
    }
}
