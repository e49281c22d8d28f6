import CNATS
import Glibc

/// The cluster mode's replicated log (docs/cluster.md), on NATS JetStream
/// through the official C client, libnats: one connection, its streams
/// (one per partition), publishing with a message id (JetStream's own dedup)
/// acked once a quorum of the stream's replicas has it, and pull readers
/// that hand a replica the stream in order from any sequence.
///
/// The C client is thread-safe. `publishAll` is called by one thread at a
/// time (the publisher); readers belong to one applier thread each.
public final class JetStreamLog: @unchecked Sendable {
    /// A failure of the NATS client or of JetStream, with its text.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// What a publish was answered.
    public struct Ack: Sendable, Equatable {
        /// The message's position in its stream.
        public let sequence: UInt64
        /// JetStream had a message with this id already (within its
        /// duplicate window): nothing new was stored.
        public let duplicate: Bool
    }

    /// One message to publish.
    public struct Message: Sendable {
        public var subject: String
        public var data: [UInt8]
        /// JetStream drops a second message with the same id in its window.
        public var id: String
        public init(subject: String, data: [UInt8], id: String) {
            self.subject = subject
            self.data = data
            self.id = id
        }
    }

    /// A stream's bounds: what it still holds.
    public struct StreamState: Sendable, Equatable {
        /// The oldest sequence it holds (retention removes older ones).
        public let first: UInt64
        /// The newest; 0 when nothing was ever written.
        public let last: UInt64
        public init(first: UInt64, last: UInt64) {
            self.first = first
            self.last = last
        }
    }

    private var connection: OpaquePointer?
    private var context: OpaquePointer?
    private let acks = AsyncAcks()
    /// For the key-value buckets on this connection.
    var contextPointer: OpaquePointer? { context }

    /// How the connection proves who it is and protects the wire: what the
    /// NATS C client supports. Every field is optional; none set is a
    /// plaintext connection without credentials (a trusted network only).
    public struct Security: Sendable, Equatable {
        /// User and password (`authorization { user, password }` on the server).
        public var user = ""
        public var password = ""
        /// A `.creds` file: a user JWT and its NKey seed (decentralized auth).
        public var credentialsFile = ""
        /// TLS: the CA that signed the servers' certificates (turns TLS on).
        public var caFile = ""
        /// TLS client certificate and key, for servers that verify clients.
        public var certificateFile = ""
        public var keyFile = ""

        public init(user: String = "", password: String = "", credentialsFile: String = "", caFile: String = "",
                    certificateFile: String = "", keyFile: String = "") {
            self.user = user
            self.password = password
            self.credentialsFile = credentialsFile
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }

        /// For logs: what is in use, never a secret.
        public var summary: String {
            var parts: [String] = []
            if !user.isEmpty { parts.append("user \(user)") }
            if !credentialsFile.isEmpty { parts.append("credentials \(credentialsFile)") }
            parts.append(caFile.isEmpty ? "plaintext" : "TLS (CA \(caFile)\(certificateFile.isEmpty ? "" : ", client certificate"))")
            return parts.joined(separator: ", ")
        }

        func apply(to options: OpaquePointer?) throws {
            if !user.isEmpty {
                try JetStreamLog.check(natsOptions_SetUserInfo(options, user, password), "NATS user and password")
            }
            if !credentialsFile.isEmpty {
                try JetStreamLog.check(natsOptions_SetUserCredentialsFromFiles(options, credentialsFile, nil), "NATS credentials \(credentialsFile)")
            }
            guard !caFile.isEmpty else { return }
            try JetStreamLog.check(natsOptions_SetSecure(options, true), "NATS TLS")
            try JetStreamLog.check(natsOptions_LoadCATrustedCertificates(options, caFile), "NATS TLS CA \(caFile)")
            if !certificateFile.isEmpty {
                try JetStreamLog.check(natsOptions_LoadCertificatesChain(options, certificateFile, keyFile), "NATS TLS certificate \(certificateFile)")
            }
        }
    }

    /// Connects to `urls` (comma-separated `nats://host:port`), reconnecting
    /// without end when a server goes away (another in the list takes over).
    /// `name` is how the servers list this connection.
    public init(urls: String, name: String = "stitch", timeoutMs: Int64 = 5000, security: Security = Security()) throws {
        var options: OpaquePointer?
        try Self.check(natsOptions_Create(&options), "NATS options")
        defer { natsOptions_Destroy(options) }
        // SetServers takes the list (SetURL takes one URL only).
        let servers = urls.split(separator: ",").map { strdup(String($0.filter { $0 != " " })) }
        defer { servers.forEach { free($0) } }
        var pointers = servers.map { UnsafePointer<CChar>($0) }
        try Self.check(
            pointers.withUnsafeMutableBufferPointer { natsOptions_SetServers(options, $0.baseAddress, Int32($0.count)) },
            "NATS servers \(urls)")
        try Self.check(natsOptions_SetName(options, name), "NATS connection name")
        try Self.check(natsOptions_SetMaxReconnect(options, -1), "NATS reconnects")
        try Self.check(natsOptions_SetReconnectWait(options, 250), "NATS reconnect wait")
        try Self.check(natsOptions_SetTimeout(options, timeoutMs), "NATS connect timeout")
        try security.apply(to: options)
        try Self.check(natsConnection_Connect(&connection, options), "connect to \(urls)")
        do {
            var jsOptions = jsOptions()
            try Self.check(jsOptions_Init(&jsOptions), "JetStream options")
            jsOptions.Wait = timeoutMs
            jsOptions.PublishAsync.MaxPending = 4096
            jsOptions.PublishAsync.AckHandler = asyncAckHandler
            jsOptions.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(acks).toOpaque()
            try Self.check(natsConnection_JetStream(&context, connection, &jsOptions), "JetStream context")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Makes sure `stream` exists, taking `subjects`, kept on `replicas`
    /// servers as files, holding messages for `maxAgeSeconds` and at most
    /// `maxBytes` (0 and −1: no bound). An existing stream with the same
    /// settings is fine; one with other settings is an error, with JetStream's text.
    public func ensureStream(
        _ stream: String, subjects: [String], replicas: Int = 1, maxAgeSeconds: Int64 = 0, maxBytes: Int64 = -1
    ) throws {
        var config = jsStreamConfig()
        try Self.check(jsStreamConfig_Init(&config), "stream config")
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        let status: natsStatus = stream.withCString { name in
            config.Name = name
            config.Storage = js_FileStorage
            config.Replicas = Int64(replicas)
            config.MaxAge = maxAgeSeconds * 1_000_000_000
            config.MaxBytes = maxBytes
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
        try Self.check(status, "create stream \(stream) (JetStream error \(code.rawValue))")
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

    /// Publishes every message at once (JetStream's async publish) and
    /// waits up to `waitMs` for all their acks; each message's own outcome,
    /// in order. A message not acked in time is a failure — it may still
    /// have been stored, which is why messages carry ids and events carry
    /// event ids: its resend is a repeat, never a copy.
    public func publishAll(_ messages: [Message], waitMs: Int64) -> [Result<Ack, Failure>] {
        acks.begin(ids: messages.map(\.id))
        var early: [Int: Failure] = [:]
        for (index, message) in messages.enumerated() {
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            options.MaxWait = waitMs
            let status = message.id.withCString { id in
                options.MsgId = id
                return message.data.withUnsafeBytes { bytes in
                    js_PublishAsync(context, message.subject, bytes.baseAddress, Int32(bytes.count), &options)
                }
            }
            if status != NATS_OK { early[index] = Self.failure(status, "publish to \(message.subject)") }
        }
        var complete = jsPubOptions()
        jsPubOptions_Init(&complete)
        complete.MaxWait = waitMs
        _ = js_PublishAsyncComplete(context, &complete)
        var results = acks.finish()
        for (index, failure) in early { results[index] = .failure(failure) }
        return results
    }

    /// The stream's bounds.
    public func state(of stream: String) throws -> StreamState {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        try Self.check(js_GetStreamInfo(&info, context, stream, nil, &code), "stream \(stream) info (JetStream error \(code.rawValue))")
        defer { jsStreamInfo_Destroy(info) }
        return StreamState(first: info?.pointee.State.FirstSeq ?? 0, last: info?.pointee.State.LastSeq ?? 0)
    }

    /// The message at `sequence` of `stream` (its subject and data); nil
    /// when the stream holds none there (not yet written, or deleted).
    public func read(stream: String, sequence: UInt64) throws -> (subject: String, data: [UInt8])? {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status = js_GetMsg(&message, context, stream, sequence, nil, &code)
        defer { if message != nil { natsMsg_Destroy(message) } }
        if status == NATS_NOT_FOUND { return nil }
        try Self.check(status, "read \(stream) sequence \(sequence) (JetStream error \(code.rawValue))")
        return (String(cString: natsMsg_GetSubject(message)), Self.data(of: message))
    }

    /// A reader of `stream` (of its `subject`) from `sequence` on, in order.
    public func reader(stream: String, subject: String, from sequence: UInt64) throws -> LogReader {
        try LogReader(context: context, stream: stream, subject: subject, from: sequence)
    }

    private func close() {
        if context != nil { jsCtx_Destroy(context) }
        context = nil
        if connection != nil { natsConnection_Destroy(connection) }
        connection = nil
    }

    static func data(of message: OpaquePointer?) -> [UInt8] {
        let length = Int(natsMsg_GetDataLength(message))
        return natsMsg_GetData(message).map { pointer in
            Array(UnsafeRawBufferPointer(start: pointer, count: length))
        } ?? []
    }

    static func failure(_ status: natsStatus, _ what: String) -> Failure {
        let text = String(cString: natsStatus_GetText(status))
        let last = nats_GetLastError(nil).map { String(cString: $0) } ?? ""
        return Failure(description: "\(what): \(text)\(last.isEmpty || last == text ? "" : " (\(last))")")
    }

    static func check(_ status: natsStatus, _ what: String) throws {
        guard status == NATS_OK else { throw failure(status, what) }
    }
}

/// The outcomes of one `publishAll`, filled in by libnats' ack thread.
final class AsyncAcks: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var positions: [String: Int] = [:]
    private var results: [Result<JetStreamLog.Ack, JetStreamLog.Failure>?] = []

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    func begin(ids: [String]) {
        locked {
            positions = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            results = Array(repeating: nil, count: ids.count)
        }
    }

    func record(id: String, _ result: Result<JetStreamLog.Ack, JetStreamLog.Failure>) {
        locked {
            // An ack after `finish` (it came too late) belongs to no batch any more.
            if let index = positions[id] { results[index] = result }
        }
    }

    func finish() -> [Result<JetStreamLog.Ack, JetStreamLog.Failure>] {
        locked {
            defer {
                positions = [:]
                results = []
            }
            return results.map { $0 ?? .failure(.init(description: "no ack from JetStream in time")) }
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }
}

/// libnats calls this on its own thread for every async publish's outcome.
private func asyncAckHandler(
    _ js: OpaquePointer?, _ message: OpaquePointer?, _ ack: UnsafeMutablePointer<jsPubAck>?,
    _ error: UnsafeMutablePointer<jsPubAckErr>?, _ closure: UnsafeMutableRawPointer?
) {
    defer { natsMsg_Destroy(message) }
    guard let closure else { return }
    let acks = Unmanaged<AsyncAcks>.fromOpaque(closure).takeUnretainedValue()
    var idPointer: UnsafePointer<CChar>?
    guard natsMsgHeader_Get(message, "Nats-Msg-Id", &idPointer) == NATS_OK, let idPointer else { return }
    let id = String(cString: idPointer)
    if let ack {
        acks.record(id: id, .success(.init(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)))
    } else if let error {
        let text = error.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(error.pointee.Err))
        acks.record(id: id, .failure(.init(description: "JetStream refused the publish: \(text) (error \(error.pointee.ErrCode.rawValue))")))
    }
}

/// Reads one stream in order from a sequence: an ephemeral pull consumer
/// that acknowledges nothing (the replica's store records what it applied).
/// When its server goes away, make a new reader from the next sequence.
public final class LogReader: @unchecked Sendable {
    private var subscription: OpaquePointer?
    public let stream: String

    init(context: OpaquePointer?, stream: String, subject: String, from sequence: UInt64) throws {
        self.stream = stream
        var options = jsSubOptions()
        try JetStreamLog.check(jsSubOptions_Init(&options), "subscribe options")
        var code = jsErrCode(0)
        let status: natsStatus = stream.withCString { name in
            options.Stream = name
            options.Config.DeliverPolicy = sequence <= 1 ? js_DeliverAll : js_DeliverByStartSequence
            options.Config.OptStartSeq = sequence <= 1 ? 0 : sequence
            options.Config.AckPolicy = js_AckNone
            options.Config.InactiveThreshold = 30 * 1_000_000_000
            return js_PullSubscribe(&subscription, context, subject, nil, nil, &options, &code)
        }
        try JetStreamLog.check(status, "read stream \(stream) from \(sequence) (JetStream error \(code.rawValue))")
    }

    deinit {
        if subscription != nil {
            natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
        }
    }

    /// Up to `max` next messages with their stream sequences, waiting up to
    /// `waitMs` for the first; empty when none came.
    public func fetch(max: Int, waitMs: Int64) throws -> [(sequence: UInt64, data: [UInt8])] {
        var list = natsMsgList()
        var code = jsErrCode(0)
        let status = natsSubscription_Fetch(&list, subscription, Int32(max), waitMs, &code)
        defer { natsMsgList_Destroy(&list) }
        if status == NATS_TIMEOUT { return [] }
        try JetStreamLog.check(status, "fetch from \(stream) (JetStream error \(code.rawValue))")
        var messages: [(sequence: UInt64, data: [UInt8])] = []
        messages.reserveCapacity(Int(list.Count))
        for index in 0..<Int(list.Count) {
            let message = list.Msgs[index]
            var meta: UnsafeMutablePointer<jsMsgMetaData>?
            try JetStreamLog.check(natsMsg_GetMetaData(&meta, message), "message metadata")
            defer { jsMsgMetaData_Destroy(meta) }
            messages.append((meta!.pointee.Sequence.Stream, JetStreamLog.data(of: message)))
        }
        return messages
    }
}

/// A JetStream key-value bucket: the cluster's membership (which node is
/// where, holding which partitions). Entries expire `ttlSeconds` after
/// their last put, so a node that stops refreshing its entry leaves.
public final class KeyValueBucket: @unchecked Sendable {
    private var store: OpaquePointer?
    public let bucket: String

    /// Binds to `bucket`, making it when missing.
    public init(log: JetStreamLog, bucket: String, ttlSeconds: Int64, replicas: Int) throws {
        self.bucket = bucket
        let context = log.contextPointer
        if js_KeyValue(&store, context, bucket) == NATS_OK { return }
        var config = kvConfig()
        try JetStreamLog.check(kvConfig_Init(&config), "key-value config")
        let status: natsStatus = bucket.withCString { name in
            config.Bucket = name
            config.History = 1
            config.TTL = ttlSeconds * 1_000_000_000
            config.Replicas = Int32(replicas)
            config.StorageType = js_FileStorage
            return js_CreateKeyValue(&store, context, &config)
        }
        // Another node may have made it meanwhile.
        if status != NATS_OK, js_KeyValue(&store, context, bucket) == NATS_OK { return }
        try JetStreamLog.check(status, "key-value bucket \(bucket)")
    }

    deinit {
        if store != nil { kvStore_Destroy(store) }
    }

    public func put(_ key: String, _ value: [UInt8]) throws {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes { kvStore_Put(&revision, store, key, $0.baseAddress, Int32($0.count)) }
        try JetStreamLog.check(status, "put \(bucket)/\(key)")
    }

    /// The key's value; nil when it has none (never put, deleted or expired).
    public func get(_ key: String) throws -> [UInt8]? {
        var entry: OpaquePointer?
        let status = kvStore_Get(&entry, store, key)
        defer { if entry != nil { kvEntry_Destroy(entry) } }
        if status == NATS_NOT_FOUND { return nil }
        try JetStreamLog.check(status, "get \(bucket)/\(key)")
        let length = Int(kvEntry_ValueLen(entry))
        guard length > 0, let pointer = kvEntry_Value(entry) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// Every key with a value.
    public func keys() throws -> [String] {
        var list = kvKeysList()
        let status = kvStore_Keys(&list, store, nil)
        if status == NATS_NOT_FOUND { return [] }
        try JetStreamLog.check(status, "keys of \(bucket)")
        defer { kvKeysList_Destroy(&list) }
        return (0..<Int(list.Count)).compactMap { list.Keys[$0].map { String(cString: $0) } }
    }
}
