#!/usr/bin/env python3
"""Open-loop HTTP latency: POSTs one body (or GETs a list of paths in turn)
at a steady rate over keep-alive connections and measures each request from
its *intended* send time (so a stalled server is charged for the requests
that queued behind the stall, not excused by a slower sender). Standard
library only.

    ops/http-open-loop.py --port 7073 --path /v1/beacon --body batch.bin --rate 400 --duration 10
    ops/http-open-loop.py --port 7073 --get-paths renewals.txt --rate 500 --duration 20
"""
import argparse
import asyncio
import time


async def worker(queue, host, port, path, body, latencies, errors):
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    while True:
        item = await queue.get()
        if item is None:
            writer.close()
            return
        intended, get_path = item
        if get_path is None:
            writer.write(head + body)
        else:
            writer.write(f"GET {get_path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        latencies.append(time.perf_counter() - intended)
        if not status_line.split()[1].startswith(b"2"):
            errors.append(status_line)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/v1/beacon")
    parser.add_argument("--body", help="file whose bytes are POSTed")
    parser.add_argument("--get-paths", help="file of paths (with query) to GET in turn, one per line, instead of POSTing")
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64, help="most requests in flight")
    args = parser.parse_args()
    if (args.body is None) == (args.get_paths is None):
        parser.error("give --body (POST) or --get-paths (GET)")
    body = open(args.body, "rb").read() if args.body else b""
    get_paths = open(args.get_paths).read().split() if args.get_paths else None
    queue, latencies, errors = asyncio.Queue(), [], []
    workers = [asyncio.create_task(worker(queue, args.host, args.port, args.path, body, latencies, errors))
               for _ in range(args.connections)]
    start = time.perf_counter()
    total = int(args.rate * args.duration)
    for n in range(total):
        intended = start + n / args.rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((intended, get_paths[n % len(get_paths)] if get_paths else None))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def at(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(f"{len(latencies)} requests at {args.rate:g}/s intended ({len(latencies) / elapsed:.0f}/s done), "
          f"{len(errors)} not 2xx; latency from intended send: "
          f"p50 {at(0.5):.2f} ms, p99 {at(0.99):.2f} ms, p99.9 {at(0.999):.2f} ms, max {latencies[-1] * 1000:.2f} ms")


asyncio.run(main())
