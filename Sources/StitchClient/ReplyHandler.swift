import NIOCore
import StitchWire

/// A frame to send and the promise its reply (same sequence) fulfils.
struct PendingRequest<Reply: Sendable>: Sendable {
    var sequence: UInt64
    var frame: ByteBuffer
    var promise: EventLoopPromise<Reply>
}

/// Matches reply frames to requests by sequence number, for both protocols:
/// the collector's ACK/ERROR and the query server's RESPONSE frames.
///
/// Replies may come in any order. A reply whose sequence matches nothing (a
/// fatal error the server sends with sequence 0 before closing) is kept and
/// reported when the connection closes, failing every request still waiting.
final class ReplyHandler<Reply: Sendable>: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = PendingRequest<Reply>
    typealias OutboundOut = ByteBuffer

    /// Turns a frame into (sequence, reply), or explains why it cannot.
    typealias Parse = (Frame, PayloadDecoder) throws -> (UInt64, Reply, unsolicitedError: String?)

    private let parse: Parse
    private let decoder = PayloadDecoder()
    private var waiting: [UInt64: EventLoopPromise<Reply>] = [:]
    private var lastError: String?

    init(parse: @escaping Parse) {
        self.parse = parse
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard waiting[request.sequence] == nil else {
            // Both promises fail: the reply's, and the write's (a write
            // promise left pending would hang whoever waits on it).
            let error = ClientError.protocolViolation("sequence \(request.sequence) is already waiting")
            request.promise.fail(error)
            promise?.fail(error)
            return
        }
        waiting[request.sequence] = request.promise
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            let (sequence, reply, unsolicited) = try parse(frame, decoder)
            if let promise = waiting.removeValue(forKey: sequence) {
                promise.succeed(reply)
            } else {
                lastError = unsolicited ?? "an answer to sequence \(sequence), which was not asked"
            }
        } catch {
            lastError = "\(error)"
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        lastError = lastError ?? "\(error)"
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let pending = waiting
        waiting = [:]
        for promise in pending.values {
            promise.fail(ClientError.connectionClosed(lastError: lastError))
        }
        context.fireChannelInactive()
    }
}
