#!/usr/bin/env python3
"""Open-loop lookup latency on the binary query port, from outside the
server and outside `stitch load` (issue 26's independent probe).

Sends person lookups of simple traffic's cookies (`ck{site}x{visitor}abcdef`,
as `stitch load` sends them) at a steady rate and measures each from its
*intended* send time: a stalled server is charged for every lookup that
queued behind the stall. One thread schedules; each of --connections
threads owns one connection (the protocol answers in order per connection).
Uses the Python client in clients/python (protobuf from the venv of
ops/python-venv.sh, or any python3 with protobuf).

    ops/query-open-loop.py --port 7071 --rate 1000 --duration 20
"""
import argparse
import os
import queue
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
try:
    from stitch_client import NotFound, QueryClient  # noqa: E402
except ImportError as error:  # protobuf missing: say where to get it, after --help works
    if "-h" not in sys.argv and "--help" not in sys.argv:
        sys.exit(f"query-open-loop: {error}; run it with the venv's python: \"$(ops/python-venv.sh)\" {sys.argv[0]} …")


def worker(args, jobs, latencies, errors):
    client = QueryClient.connect(args.host, args.port, token=args.token, client_name="query-open-loop")
    while True:
        job = jobs.get()
        if job is None:
            client.close()
            return
        intended, site, cookie = job
        try:
            client.lookup(site, "cookie", cookie)
        except NotFound:
            pass
        except Exception as error:  # a refusal or a broken connection: counted, not timed
            errors.append(repr(error))
            continue
        latencies.append(time.perf_counter() - intended)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--token", default="")
    parser.add_argument("--rate", type=float, default=1000, help="lookups per second")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--connections", type=int, default=8, help="most lookups in flight")
    parser.add_argument("--sites", type=int, default=4, help="as `stitch load --sites`")
    parser.add_argument("--persons", type=int, default=100_000, help="as `stitch load --persons`")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"query-open-loop: seed {args.seed}", file=sys.stderr)
    pick = random.Random(args.seed)
    jobs, latencies, errors = queue.Queue(), [], []
    threads = [threading.Thread(target=worker, args=(args, jobs, latencies, errors)) for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # connections up before the clock starts
    start = time.perf_counter()
    total = int(args.rate * args.duration)
    for n in range(total):
        intended = start + n / args.rate
        delay = intended - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        site = 1 + pick.randrange(args.sites)
        jobs.put((intended, site, f"ck{site}x{pick.randrange(args.persons)}abcdef"))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if not latencies:
        sys.exit(f"no lookup answered ({len(errors)} errors: {errors[:3]})")
    latencies.sort()

    def at(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(f"probe lookups: {len(latencies)} at {args.rate:g}/s intended ({len(latencies) / elapsed:.0f}/s done), "
          f"{len(errors)} errors; latency from intended send: p50 {at(0.5):.2f} ms, p99 {at(0.99):.2f} ms, "
          f"p99.9 {at(0.999):.2f} ms, max {latencies[-1] * 1000:.2f} ms")


main()
