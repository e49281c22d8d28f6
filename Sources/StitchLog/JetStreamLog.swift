import CNATS
import Glibc

/// The cluster mode's replicated log (issue 24), on NATS JetStream through
/// the official C client: one stream of prepared batches, published with a
/// message id (JetStream's own dedup) and acked once a quorum has it, then
/// read back by every replica in stream order, by sequence.
///
/// This is the first piece only — connect, create the stream, publish, read
/// by sequence; the collectors and the writer do not use it yet. One
/// connection per instance; the C client is thread-safe, this wrapper is used
/// from one thread at a time.
public final class JetStreamLog {
    /// A failure of the NATS client or of JetStream, with its text.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// What a publish was answered.
    public struct Ack: Sendable, Equatable {
        /// The message's position in the stream.
        public let sequence: UInt64
        /// JetStream had a message with this id already (within its
        /// duplicate window): nothing new was stored.
        public let duplicate: Bool
    }

    private var connection: OpaquePointer?
    private var context: OpaquePointer?
    public let stream: String

    /// Connects to `urls` (comma-separated `nats://host:port`) and makes sure
    /// `stream` exists, taking `subjects`, kept on `replicas` servers.
    public init(urls: String, stream: String, subjects: [String], replicas: Int = 1) throws {
        self.stream = stream
        try Self.check(natsConnection_ConnectTo(&connection, urls), "connect to \(urls)")
        do {
            try Self.check(natsConnection_JetStream(&context, connection, nil), "JetStream context")
            var config = jsStreamConfig()
            try Self.check(jsStreamConfig_Init(&config), "stream config")
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(0)
            let status: natsStatus = stream.withCString { name in
                config.Name = name
                config.Storage = js_FileStorage
                config.Replicas = Int64(replicas)
                let cSubjects = subjects.map { strdup($0) }
                defer { cSubjects.forEach { free($0) } }
                var pointers = cSubjects.map { UnsafePointer<CChar>($0) }
                return pointers.withUnsafeMutableBufferPointer { buffer in
                    config.Subjects = buffer.baseAddress
                    config.SubjectsLen = Int32(buffer.count)
                    return js_AddStream(&info, context, &config, nil, &code)
                }
            }
            if info != nil { jsStreamInfo_Destroy(info) }
            // Adding a stream that exists with the same configuration succeeds.
            try Self.check(status, "create stream \(stream) (JetStream error \(code.rawValue))")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Publishes `data` to `subject` with `messageID` and waits for the
    /// stream's ack (a quorum of its replicas has it).
    public func publish(subject: String, data: [UInt8], messageID: String) throws -> Ack {
        var options = jsPubOptions()
        try Self.check(jsPubOptions_Init(&options), "publish options")
        var ack: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(0)
        let status = messageID.withCString { id in
            options.MsgId = id
            return data.withUnsafeBytes { bytes in
                js_Publish(&ack, context, subject, bytes.baseAddress, Int32(bytes.count), &options, &code)
            }
        }
        defer { if ack != nil { jsPubAck_Destroy(ack) } }
        try Self.check(status, "publish to \(subject) (JetStream error \(code.rawValue))")
        guard let ack else { throw Failure(description: "publish to \(subject): no ack") }
        return Ack(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
    }

    /// The message at `sequence` of the stream (its subject and data); nil
    /// when the stream holds none there (not yet written, or deleted).
    public func read(sequence: UInt64) throws -> (subject: String, data: [UInt8])? {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status = js_GetMsg(&message, context, stream, sequence, nil, &code)
        defer { if message != nil { natsMsg_Destroy(message) } }
        if status == NATS_NOT_FOUND { return nil }
        try Self.check(status, "read \(stream) sequence \(sequence) (JetStream error \(code.rawValue))")
        let subject = String(cString: natsMsg_GetSubject(message))
        let length = Int(natsMsg_GetDataLength(message))
        let bytes = natsMsg_GetData(message).map { pointer in
            Array(UnsafeRawBufferPointer(start: pointer, count: length))
        } ?? []
        return (subject, bytes)
    }

    /// The stream's last sequence (0 when empty).
    public func lastSequence() throws -> UInt64 {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        try Self.check(js_GetStreamInfo(&info, context, stream, nil, &code), "stream info (JetStream error \(code.rawValue))")
        defer { jsStreamInfo_Destroy(info) }
        return info?.pointee.State.LastSeq ?? 0
    }

    private func close() {
        if context != nil { jsCtx_Destroy(context) }
        context = nil
        if connection != nil { natsConnection_Destroy(connection) }
        connection = nil
    }

    private static func check(_ status: natsStatus, _ what: String) throws {
        guard status == NATS_OK else {
            let text = String(cString: natsStatus_GetText(status))
            let last = nats_GetLastError(nil).map { String(cString: $0) } ?? ""
            throw Failure(description: "\(what): \(text)\(last.isEmpty ? "" : " (\(last))")")
        }
    }
}
