"""Beacons to the collector (7070) over TCP, each batch acknowledged after its
commit; unacknowledged batches are resent after a reconnect, and event ids make
the resends harmless (FRAMING.md "Exactly once")."""
import dataclasses
import secrets
import socket
import time
from collections import OrderedDict

from . import framing
from .errors import BatchRefused, ConnectionLost
from .proto import beacon_pb2

#: ERROR codes after which the same batch may succeed later (resent, not raised).
RETRYABLE = {
    beacon_pb2.FRAME_ERROR_CODE_OVERLOADED,
    beacon_pb2.FRAME_ERROR_CODE_STORE_UNAVAILABLE,
    beacon_pb2.FRAME_ERROR_CODE_SHUTTING_DOWN,
    beacon_pb2.FRAME_ERROR_CODE_OVER_QUOTA,  # the site's beacons/s budget: back off, resend
}


@dataclasses.dataclass
class SendResult:
    """What the collector said about every batch acknowledged so far."""
    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    repeated: int = 0
    suppressed: int = 0
    #: `beacon_pb2.BeaconRejection`s of every ack, as (batch sequence, rejection).
    rejections: list = dataclasses.field(default_factory=list)
    #: Reconnects made to resend unacknowledged batches.
    reconnects: int = 0
    #: Cluster mode: the furthest log position acked per partition
    #: (partition -> sequence). Pass `position(partition)` as a query's
    #: `min_position` to read what these batches wrote (read-your-writes).
    log_positions: dict = dataclasses.field(default_factory=dict)

    def position(self, partition):
        """`(partition, sequence)` for a query's `min_position`, or None when nothing went there."""
        sequence = self.log_positions.get(partition)
        return None if sequence is None else (partition, sequence)


class BeaconSender:
    """Sends `beacon_pb2.Beacon`s in batches with up to `window` batches unacknowledged.

    `send` gives each beacon without an `event_id` a random one (so a resend
    is recognised and stored once), batches them, and returns once the window
    has room; `flush` returns once every batch is acknowledged. A lost
    connection is reopened (up to `reconnects_max` times in a row, with
    backoff) and every unacknowledged batch is sent again in order.
    A batch refused for good (malformed, too large) raises `BatchRefused`.
    """

    def __init__(self, host="127.0.0.1", port=7070, *, batch_size=50, window=64, compress=True, timeout=10.0,
                 reconnects_max=10, tls=None, server_name=None):
        if not 1 <= batch_size <= 4096:
            raise ValueError("batch_size is 1 to 4096 (the collector's limit)")
        self.host, self.port, self.batch_size, self.window = host, port, batch_size, max(1, window)
        self.compress, self.timeout, self.reconnects_max = compress, timeout, reconnects_max
        self.tls, self.server_name = tls, server_name
        self.result = SendResult()
        self._unacked = OrderedDict()  # sequence -> frame bytes, in send order
        self._pending = []
        self._next_sequence = 1
        self._sock = None
        self._connect()

    def send(self, beacons):
        """Queues beacons; full batches go out at once. Returns the beacons' event ids."""
        ids = []
        for beacon in beacons:
            if beacon.event_id == 0:
                beacon.event_id = secrets.randbits(63) | 1
            ids.append(beacon.event_id)
            self._pending.append(beacon)
            if len(self._pending) >= self.batch_size:
                self._send_batch()
        return ids

    def flush(self):
        """Sends what is queued and waits until every batch is acknowledged; returns `result`."""
        if self._pending:
            self._send_batch()
        while self._unacked:
            self._read_answer()
        return self.result

    def close(self):
        """Flushes, then closes the connection."""
        try:
            self.flush()
        finally:
            if self._sock:
                self._sock.close()
                self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        elif self._sock:
            self._sock.close()

    # Internals

    def _send_batch(self):
        batch = beacon_pb2.BeaconBatch(beacons=self._pending)
        self._pending = []
        sequence = self._next_sequence
        self._next_sequence += 1
        frame = framing.encode(framing.BATCH, sequence, batch.SerializeToString(), compress=self.compress)
        while len(self._unacked) >= self.window:
            self._read_answer()
        self._unacked[sequence] = frame
        self._write(frame)

    def _write(self, frame):
        try:
            self._sock.sendall(frame)
        except OSError:
            self._reconnect()  # resends every unacked batch, this one included

    def _read_answer(self):
        try:
            frame_type, sequence, payload = framing.read(self._sock)
        except (OSError, ConnectionError, framing.FramingError):
            self._reconnect()
            return
        if frame_type == framing.ACK:
            ack = beacon_pb2.BatchAck.FromString(payload)
            if self._unacked.pop(sequence, None) is None:
                return  # an answer to a batch resent after a reconnect, already counted
            r = self.result
            r.batches += 1
            r.accepted += ack.accepted
            r.rejected += ack.rejected
            r.repeated += ack.repeated
            r.suppressed += ack.suppressed
            r.rejections.extend((sequence, rejection) for rejection in ack.rejections)
            for position in ack.log_positions:
                r.log_positions[position.partition] = max(r.log_positions.get(position.partition, 0), position.sequence)
        elif frame_type == framing.ERROR:
            error = beacon_pb2.FrameError.FromString(payload)
            if error.code in RETRYABLE:
                time.sleep(0.5)
                if error.closing:
                    self._reconnect()
                elif sequence in self._unacked:
                    self._write(self._unacked[sequence])
                return
            self._unacked.pop(sequence, None)
            raise BatchRefused(f"batch {sequence} refused: {error.message}", error.code)

    def _connect(self):
        self._sock = framing.connect(self.host, self.port, self.timeout, self.tls, self.server_name)

    def _reconnect(self):
        if self._sock:
            self._sock.close()
        for attempt in range(self.reconnects_max):
            time.sleep(min(2.0, 0.05 * 2 ** attempt))
            try:
                self._connect()
                self.result.reconnects += 1
                for frame in list(self._unacked.values()):
                    self._sock.sendall(frame)
                return
            except OSError:
                continue
        raise ConnectionLost(f"cannot reach the collector at {self.host}:{self.port} "
                             f"({len(self._unacked)} batches unacknowledged)")
