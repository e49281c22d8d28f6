import Foundation
import StitchLog

/// Names in JetStream: one stream per partition, so each partition has its
/// own contiguous sequence (a gap is visible) and its own RAFT leader
/// (partitions spread over the NATS servers).
enum ClusterStreams {
    static func stream(_ partition: Int) -> String { "STITCH_P\(partition)" }
    static func subject(_ partition: Int) -> String { "stitch.p\(partition)" }

    /// Connects to the cluster's NATS servers and makes sure every
    /// partition's stream exists with the configured replicas and
    /// retention, then runs `prepare` (the genesis entries). Retries while
    /// JetStream is not ready yet (a cluster electing its leaders after a
    /// start, a stream just made by another node), up to `waitMs`.
    static func connect(
        _ configuration: ServerConfiguration, partitions: Int, waitMs: Int = 30_000, prepare: (JetStreamLog) throws -> Void
    ) throws -> JetStreamLog {
        let deadline = IngestQueue.monotonicNanoseconds() + Int64(waitMs) * 1_000_000
        while true {
            do {
                let log = try JetStreamLog(
                    urls: configuration.clusterNATSURLs, name: "stitch-\(configuration.clusterNode)", security: configuration.clusterNATSSecurity)
                for partition in 0..<partitions {
                    try log.ensureStream(
                        stream(partition), subjects: [subject(partition)], replicas: configuration.clusterReplicas,
                        maxAgeSeconds: Int64(configuration.clusterStreamMaxAgeHours) * 3600,
                        maxBytes: configuration.clusterStreamMaxBytes == 0 ? -1 : Int64(configuration.clusterStreamMaxBytes))
                }
                try prepare(log)
                return log
            } catch {
                guard IngestQueue.monotonicNanoseconds() < deadline else { throw error }
                usleep(250_000)
            }
        }
    }
}
