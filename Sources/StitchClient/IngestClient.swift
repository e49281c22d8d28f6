import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StitchWire

/// The collector's answer to one batch sent over TCP.
public enum IngestReply: Sendable, Equatable {
    /// Committed; counts and per-beacon rejections.
    case ack(Stitch_V1_BatchAck)
    /// The frame was refused as a whole; nothing of it is stored.
    case refused(Stitch_V1_FrameError)
}

/// A TCP client of the collector: sends BATCH frames, pipelined, and returns
/// each batch's ack (FRAMING.md "Acknowledgements"). Thread-safe.
public final class IngestClient: Sendable {
    private let connection: Connection<IngestReply>
    private let encoder = NIOLockedValueBox(UncheckedBox(FrameEncoder()))

    private init(connection: Connection<IngestReply>) {
        self.connection = connection
    }

    /// Connects to a collector's TCP port, over TLS when `tls` is given.
    public static func connect(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tls: TLSClientSettings? = nil
    ) async throws -> IngestClient {
        IngestClient(connection: try await Connection.open(host: host, port: port, group: group, tls: tls, parse: parseReply))
    }

    /// Sends `beacons` as one batch; the future completes with its ack.
    public func send(_ beacons: [Stitch_V1_Beacon], sequence: UInt64, compressed: Bool = true)
        -> EventLoopFuture<IngestReply>
    {
        let batch = Stitch_V1_BeaconBatch.with { $0.beacons = beacons }
        var buffer = connection.channel.allocator.buffer(capacity: 256)
        do {
            try encoder.withLockedValue { try $0.value.encode(batch, type: .batch, sequence: sequence,
                                                               compressed: compressed, into: &buffer) }
        } catch {
            return connection.channel.eventLoop.makeFailedFuture(error)
        }
        return connection.send(buffer, sequence: sequence)
    }

    /// Sends a ready-made frame (tests send malformed ones) expecting a reply
    /// with `sequence`.
    public func sendFrame(_ frame: ByteBuffer, sequence: UInt64) -> EventLoopFuture<IngestReply> {
        connection.send(frame, sequence: sequence)
    }

    /// Sends bytes after which the server is expected to close (a fatal
    /// framing error); the server's ERROR shows in the close error.
    public func sendUnanswered(_ bytes: ByteBuffer) async throws {
        try await connection.sendUnanswered(bytes)
    }

    /// Completes when the server closes the connection.
    public var closeFuture: EventLoopFuture<Void> { connection.channel.closeFuture }

    public func close() async {
        await connection.close()
    }

    @Sendable
    private static func parseReply(_ frame: Frame, _ decoder: PayloadDecoder) throws
        -> (UInt64, IngestReply, unsolicitedError: String?)
    {
        let sequence = frame.header.sequence
        switch frame.header.type {
        case .ack:
            let ack = try decoder.decode(frame, as: Stitch_V1_BatchAck.self, expecting: .ack)
            return (sequence, .ack(ack), nil)
        case .error:
            let error = try decoder.decode(frame, as: Stitch_V1_FrameError.self, expecting: .error)
            return (sequence, .refused(error), "\(error.code): \(error.message)")
        default:
            throw ClientError.protocolViolation("frame type \(frame.header.typeByte) from the collector")
        }
    }
}

/// Lets a non-Sendable value live inside a lock.
struct UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
