"""The hostile-client scenarios of issue 12 against a real `stitch serve`, each
on a fresh server, with the server's resident memory before, at its peak
during, and after the attack (run by ops/attack-rss.sh).

    python ops/attack-rss.py STITCH_BINARY [SCENARIO ...]

Scenarios: zlib, unread, slowloris, idle, udp, hellos (default: all).
Every attack comes from loopback; `idle` spreads its connections over
127.0.0.2… so the per-address limit does not hide the per-port one.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
from stitch_client import framing  # noqa: E402
from stitch_client.proto import beacon_pb2  # noqa: E402
from stitch_client.query import QueryClient  # noqa: E402
from stitch_client.testing import ServeProcess  # noqa: E402

MIB = 1 << 20


class Server(ServeProcess):
    """`stitch serve` on a temporary store, its resident memory sampled."""

    def __init__(self, binary, settings=()):
        self.directory = tempfile.mkdtemp(prefix="stitch-attack.")
        super().__init__(binary, os.path.join(self.directory, "data"), settings)
        self.peak = self.rss()
        self._sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    def rss(self):
        """Resident memory in MiB, from /proc."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _sample(self):
        while self._sampling and self.process.poll() is None:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)

    def metric(self, name):
        """Sum of every series of one metric on /metrics."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.ports['http']}/metrics", timeout=5).read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and (line[len(name)] in " {"))

    def healthy(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.ports['http']}/healthz", timeout=2).status == 200
        except OSError:
            return False

    def stop(self):
        self._sampling = False
        super().stop()
        subprocess.run(["rm", "-rf", self.directory], check=False)


def frame_header(frame_type, sequence, length, raw_length, checksum, flags=0):
    return framing.HEADER.pack(framing.MAGIC, framing.VERSION, frame_type, flags, 0, 0, sequence, length,
                               raw_length, checksum)


def batch(site, beacons):
    return beacon_pb2.BeaconBatch(beacons=beacons).SerializeToString()


def hit(site, number):
    return beacon_pb2.Beacon(site=site, time_ms=1767225600000 + number, event_id=number + 1,
                             identifiers=[beacon_pb2.Identifier(kind=beacon_pb2.IDENTIFIER_KIND_COOKIE,
                                                                value=f"cookie-real-{number}")],
                             hit=beacon_pb2.Hit(url="https://a.example/"))


def connect_many(port, count, sources=1):
    """Up to `count` connections (spread over `sources` loopback addresses); those refused are not kept."""
    sockets = []
    for index in range(count):
        source = f"127.0.0.{2 + index % sources}" if sources > 1 else "127.0.0.1"
        try:
            sock = socket.socket()
            sock.bind((source, 0))
            sock.settimeout(5)
            sock.connect(("127.0.0.1", port))
            sockets.append(sock)
        except OSError:
            sock.close()
    return sockets


def still_open(sockets):
    """Connections the server has not closed (a read would see the end)."""
    alive = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            if sock.recv(1, socket.MSG_PEEK) == b"":
                continue
            alive += 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def zlib_bombs(server):
    """250 connections, each one 4 KB frame that inflates to 4 MiB, held open."""
    payload = zlib.compress(b"\0" * (4 * MIB), 9)
    frame = frame_header(framing.BATCH, 1, len(payload), 4 * MIB, zlib.crc32(payload), framing.FLAG_ZLIB) + payload
    sockets = connect_many(server.ports["ingest"], 250)
    for sock in sockets:
        try:
            sock.sendall(frame)
        except OSError:
            pass
    time.sleep(3)
    detail = f"{len(sockets)} connections, {len(payload)}-byte frames declaring and inflating to 4 MiB"
    for sock in sockets:
        sock.close()
    return detail


def unread_flood(server, seconds=20):
    """One connection sending bad-CRC frames as fast as it can, never reading its ERROR replies."""
    payload = batch(1, [hit(1, 0)])
    frame = frame_header(framing.BATCH, 1, len(payload), len(payload), zlib.crc32(payload) ^ 1) + payload
    burst = frame * 1000
    sock = socket.create_connection(("127.0.0.1", server.ports["ingest"]))
    sock.settimeout(0.5)
    offered = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            sock.sendall(burst)
            offered += 1000
        except socket.timeout:
            pass  # the server stopped reading us: exactly the point
        except OSError:
            break
    sock.close()
    return f"{offered:,} bad-CRC frames offered in {seconds} s without reading a reply"


def slowloris(server, count=300, hold=8):
    """`count` connections, each holding 1 MiB - 1 bytes of a 1 MiB frame."""
    sockets = connect_many(server.ports["ingest"], count)
    part = frame_header(framing.BATCH, 1, MIB, MIB, 0) + b"\0" * (MIB - 1)
    for sock in sockets:
        try:
            sock.sendall(part)
        except OSError:
            pass
    time.sleep(hold)
    detail = f"{len(sockets)} connected, {still_open(sockets)} kept by the server after {hold} s"
    for sock in sockets:
        sock.close()
    return detail


def idle(server, count=5000):
    """`count` idle connections from 200 loopback addresses; then /healthz and a lookup must still answer."""
    sockets = connect_many(server.ports["ingest"], count, sources=200)
    time.sleep(1)
    alive = still_open(sockets)
    healthy = server.healthy()
    try:
        with QueryClient.connect("127.0.0.1", server.ports["query"], timeout=5) as client:
            client.stats()
        query = "answers"
    except Exception as error:  # noqa: BLE001 - reported, not raised
        query = f"fails ({error})"
    refused = server.metric("stitch_connections_refused_total")
    for sock in sockets:
        sock.close()
    return (f"{count:,} opened, {alive:,} kept by the server, {refused:.0f} refused and counted; "
            f"/healthz {'answers' if healthy else 'FAILS'}, the query port {query}")


def udp_bombs(server, real=5000, bombs_per_real=10):
    """Real one-beacon datagrams, each after 10 zlib bombs (a 4 KB datagram declaring 4 MiB)."""
    bomb_payload = zlib.compress(b"\0" * (4 * MIB), 9)[:4000]
    bomb = frame_header(framing.BATCH, 1, len(bomb_payload), 4 * MIB, zlib.crc32(bomb_payload),
                        framing.FLAG_ZLIB) + bomb_payload
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    address = ("127.0.0.1", server.ports["ingest"])
    for number in range(real):
        for _ in range(bombs_per_real):
            sock.sendto(bomb, address)
        payload = batch(1, [hit(1, number)])
        sock.sendto(frame_header(framing.BATCH, number + 1, len(payload), len(payload), zlib.crc32(payload)) + payload,
                    address)
        if number % 100 == 99:
            time.sleep(0.01)  # a steady stream, not one burst
    time.sleep(2)
    with QueryClient.connect("127.0.0.1", server.ports["query"], timeout=5) as client:
        stored = client.stats().events
    refused = server.metric("stitch_frames_rejected_total")
    kernel = server.metric("stitch_udp_kernel_drops")
    return (f"{real:,} real beacons among {real * bombs_per_real:,} bombs: {stored:,} stored, "
            f"{refused:,.0f} frames refused and counted, kernel drops {kernel:.0f}")


def wrong_hellos(server):
    """One connection sending wrong hellos until the server closes it."""
    sock = socket.create_connection(("127.0.0.1", server.ports["query"]), timeout=5)
    from stitch_client.proto import query_pb2
    answered = 0
    for number in range(1, 1001):
        request = query_pb2.Request(request_id=number, hello=query_pb2.Hello(token=f"guess-{number}"))
        payload = request.SerializeToString()
        try:
            sock.sendall(framing.encode(framing.REQUEST, number, payload))
            framing.read(sock)
            answered += 1
        except (OSError, ConnectionError):
            break
    sock.close()
    failures = server.metric("stitch_hello_failures_total")
    return f"closed after {answered} answered wrong hellos; {failures:.0f} counted"


SCENARIOS = {
    "zlib": (zlib_bombs, ["connections_per_address_max=1000"]),
    "unread": (unread_flood, []),
    "slowloris": (slowloris, []),
    "idle": (idle, ["connections_per_address_max=1000"]),
    "udp": (udp_bombs, []),
    "hellos": (wrong_hellos, ["tokens=secret=*"]),
}


def main():
    binary, names = sys.argv[1], sys.argv[2:] or list(SCENARIOS)
    print(f"{'scenario':<10} {'RSS start':>9} {'peak':>7} {'after':>7}  what happened")
    for name in names:
        attack, settings = SCENARIOS[name]
        server = Server(binary, settings)
        try:
            start = server.rss()
            detail = attack(server)
            time.sleep(1)
            print(f"{name:<10} {start:7.0f} MiB {server.peak:5.0f} MiB {server.rss():5.0f} MiB  {detail}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
