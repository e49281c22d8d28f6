import NIOCore
import NIOEmbedded
@testable import StitchClient
import StitchWire
import Testing

/// The client's reply matching, on an embedded channel: replies in any
/// order reach their requests; what the server said before closing reaches
/// every request still waiting; the hello's answer is read one way for both
/// clients.
@Suite("Client reply matching")
struct ReplyHandlerTests {
    /// A reply frame whose payload is the sequence's text, parsed back as the reply.
    static func frame(_ sequence: UInt64) -> Frame {
        Frame(
            header: FrameHeader(type: .ack, flags: [], sequence: sequence, length: 0, rawLength: 0, checksum: 0),
            payload: ByteBuffer(string: "reply \(sequence)"))
    }

    static func channel() throws -> EmbeddedChannel {
        let handler = ReplyHandler<String> { frame, _ in
            var payload = frame.payload
            let text = payload.readString(length: payload.readableBytes) ?? ""
            if frame.header.sequence == 0 { return (0, text, unsolicitedError: "the server said: \(text)") }
            return (frame.header.sequence, text, unsolicitedError: nil)
        }
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        return channel
    }

    static func send(_ channel: EmbeddedChannel, _ sequence: UInt64) throws -> EventLoopFuture<String> {
        let promise = channel.eventLoop.makePromise(of: String.self)
        // The write itself may fail (a refused request): the reply's future says why.
        _ = try? channel.writeOutbound(PendingRequest(sequence: sequence, frame: ByteBuffer(string: "request"), promise: promise))
        return promise.futureResult
    }

    /// The future's result if it has one (an embedded loop runs callbacks at once), never blocking.
    static func result<T>(_ future: EventLoopFuture<T>) -> Result<T, any Error>? {
        var result: Result<T, any Error>?
        future.whenComplete { result = $0 }
        return result
    }

    @Test("replies in any order reach the request of their sequence")
    func outOfOrder() throws {
        let channel = try Self.channel()
        let first = try Self.send(channel, 1), second = try Self.send(channel, 2), third = try Self.send(channel, 3)
        try channel.writeInbound(Self.frame(3))
        try channel.writeInbound(Self.frame(1))
        try channel.writeInbound(Self.frame(2))
        #expect(try Self.result(first)?.get() == "reply 1")
        #expect(try Self.result(second)?.get() == "reply 2")
        #expect(try Self.result(third)?.get() == "reply 3")
        _ = try channel.finish()
    }

    @Test("a sequence already waiting is refused; an unsolicited error reaches the requests the close leaves waiting")
    func duplicatesAndClose() throws {
        let channel = try Self.channel()
        let waiting = try Self.send(channel, 7)
        let duplicate = try Self.send(channel, 7)
        #expect(throws: ClientError.self) { try Self.result(duplicate)?.get() }
        #expect(Self.result(waiting) == nil, "the first request still waits")
        try channel.writeInbound(Self.frame(0))  // the server's error before closing
        _ = try channel.finish(acceptAlreadyClosed: false)  // the connection closes
        switch Self.result(waiting) {
        case .failure(ClientError.connectionClosed(let lastError))?:
            #expect(lastError == "the server said: reply 0")
        case let other:
            Issue.record("the waiting request ended \(String(describing: other))")
        }
    }

    @Test("the hello's answer: granted sites, a typed refusal, or a protocol violation")
    func hello() throws {
        let granted = try QueryHello.accepted(.with { $0.hello = .with { $0.sites = [1, 2] } })
        #expect(granted.sites == [1, 2])
        #expect(QueryHello.request(token: "t", clientName: "test").requestID == QueryHello.requestID)
        do {
            _ = try QueryHello.accepted(.with { $0.error = .with { $0.code = .unauthenticated } })
            Issue.record("a refusal was taken for a hello")
        } catch .server(let error) {
            #expect(error.code == .unauthenticated)
        } catch {
            Issue.record("refused as \(error)")
        }
        #expect(throws: ClientError.self) { try QueryHello.accepted(.with { $0.stats = .init() }) }
    }
}
