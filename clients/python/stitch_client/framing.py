"""Frames (proto/FRAMING.md): a 28-byte big-endian header, then the payload,
a protobuf message, possibly a zlib stream of it."""
import socket
import ssl
import struct
import zlib

MAGIC = 0x5354  # "ST"
VERSION = 1
HEADER = struct.Struct(">HBBBBHQIII")  # magic, version, type, flags, reserved (1 + 2 bytes), sequence, length, rawLength, crc
HEADER_BYTES = HEADER.size  # 28
FLAG_ZLIB = 0x01

BATCH, ACK, ERROR, REQUEST, RESPONSE = 1, 2, 3, 4, 5

#: Largest payload a frame may carry (FRAMING.md: 1 MiB); larger ones are refused before reading them.
FRAME_BYTES_MAX = 1 << 20
#: Largest inflated payload accepted from the server.
INFLATED_BYTES_MAX = 4 << 20


class FramingError(Exception):
    """The byte stream is not a valid Stitch frame stream."""


def encode(frame_type, sequence, payload, compress=False):
    """One frame holding `payload` (serialized protobuf bytes)."""
    raw_length = len(payload)
    body = zlib.compress(payload) if compress else payload
    flags = FLAG_ZLIB if compress else 0
    header = HEADER.pack(MAGIC, VERSION, frame_type, flags, 0, 0, sequence, len(body), raw_length,
                         zlib.crc32(body) & 0xFFFFFFFF)
    return header + body


def _read_exactly(sock, count):
    chunks = []
    remaining = count
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read(sock):
    """The next frame from `sock` as (type, sequence, payload bytes, inflated)."""
    header = _read_exactly(sock, HEADER_BYTES)
    magic, version, frame_type, flags, _, _, sequence, length, raw_length, checksum = HEADER.unpack(header)
    if magic != MAGIC or version != VERSION:
        raise FramingError(f"not a Stitch frame (magic {magic:#06x}, version {version})")
    if length > FRAME_BYTES_MAX or raw_length > INFLATED_BYTES_MAX:
        raise FramingError(f"frame too large ({length} bytes, {raw_length} inflated)")
    body = _read_exactly(sock, length)
    if zlib.crc32(body) & 0xFFFFFFFF != checksum:
        raise FramingError("checksum mismatch")
    if flags & FLAG_ZLIB:
        inflater = zlib.decompressobj()
        body = inflater.decompress(body, raw_length + 1)
        if len(body) != raw_length:
            raise FramingError("inflated length differs from the header's")
    return frame_type, sequence, body


def tls_context(ca_file=None, cert_file=None, key_file=None):
    """An `ssl.SSLContext` for a Stitch port with TLS: it checks the server's
    certificate against `ca_file` (None: the system's CAs) and its name, and
    presents `cert_file`/`key_file` to a query port that requires a client
    certificate. Pass it as `tls=` to `QueryClient.connect` or `BeaconSender`."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def connect(host, port, timeout, tls=None, server_name=None):
    """A TCP connection, wrapped in TLS when `tls` (an `ssl.SSLContext`) is given;
    the certificate must name `server_name` (default: `host`)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls is not None:
        try:
            sock = tls.wrap_socket(sock, server_hostname=server_name or host)
        except BaseException:
            sock.close()
            raise
    return sock
