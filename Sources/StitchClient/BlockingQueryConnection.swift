#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import StitchWire

/// A query connection on a plain blocking socket: connect and hello in the
/// initializer, then whole frames written and read by the caller's threads.
///
/// For measuring the server rather than a client: no event loop and no
/// async hop sits between the caller's clock and the socket (`stitch load`'s
/// open-loop driver sends from one thread and reads from another). Requests
/// are frames the caller encoded; answers are matched by their sequence.
/// One thread may write while another reads; two writers must not share it.
public final class BlockingQueryConnection: @unchecked Sendable {
    private let socket: Int32
    /// What the server said to the hello: readable sites and limits.
    public private(set) var hello = Stitch_V1_HelloResponse()

    /// Connects to an IPv4 `host` and says hello with `token`.
    ///
    /// - Throws: `ClientError.cannotConnect`, `.server` when the token is
    ///   refused, `.connectionClosed` when no answer comes.
    public init(host: String, port: Int, token: String, clientName: String = "stitch-blocking-client") throws {
        socket = try Self.connect(host: host, port: port)
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        try FrameEncoder().encode(
            QueryHello.request(token: token, clientName: clientName), type: .request,
            sequence: QueryHello.requestID, into: &buffer)
        try write(buffer)
        guard let answer = try readFrame() else { throw ClientError.connectionClosed(lastError: nil) }
        guard answer.header.sequence == QueryHello.requestID else {
            throw ClientError.protocolViolation("an answer to request \(answer.header.sequence) before the hello's")
        }
        let response = try PayloadDecoder().decode(answer, as: Stitch_V1_Response.self, expecting: .response)
        hello = try QueryHello.accepted(response)
    }

    deinit { close(socket) }

    /// Writes one whole encoded frame, blocking until the kernel took it.
    public func write(_ frame: ByteBuffer) throws(ClientError) {
        try frame.withUnsafeReadableBytes { (bytes) throws(ClientError) in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(socket, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw .connectionClosed(lastError: "write: \(Self.lastErrno())") }
                offset += written
            }
        }
    }

    /// The next whole frame, or nil once the stream ended (the server closed,
    /// or `shutdown()` was called).
    ///
    /// - Throws: `FrameError` for a header that is not a Stitch frame.
    public func readFrame() throws -> Frame? {
        guard let head = readExactly(FrameHeader.byteCount) else { return nil }
        guard let header = try FrameHeader.peek(in: head, limits: .standard) else { return nil }
        guard let payload = readExactly(Int(header.length)) else { return nil }
        return Frame(header: header, payload: payload)
    }

    /// Ends both directions, so a thread blocked in `readFrame` returns nil.
    public func shutdown() {
        _ = Glibc.shutdown(socket, Int32(SHUT_RDWR))
    }

    private func readExactly(_ count: Int) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        var remaining = count
        while remaining > 0 {
            var result = 0
            let wanted = remaining
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { bytes in
                result = Glibc.read(socket, bytes.baseAddress!, wanted)
                return max(0, result)
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return nil }
            remaining -= result
        }
        return buffer
    }

    private static func connect(host: String, port: Int) throws(ClientError) -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .cannotConnect(host: host, port: port, reason: "socket: \(lastErrno())") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            close(fd)
            throw .cannotConnect(host: host, port: port, reason: "an IPv4 address is needed")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let reason = lastErrno()
            close(fd)
            throw .cannotConnect(host: host, port: port, reason: reason)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    private static func lastErrno() -> String { String(cString: strerror(errno)) }
}
