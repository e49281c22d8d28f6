#!/usr/bin/env python3
"""How late a thread that does nothing else wakes up on this machine: the
floor under every open-loop latency measured here at the same time.

One thread sleeps to a steady tick (1,000/s by default) and records how late
it woke against each tick's time. No socket, no server: what it measures is
the kernel and the hypervisor handing a woken thread a CPU while the rest of
the machine runs. ops/scale-latency.sh runs it beside the lookups, so a lookup
tail can be read against it (a lookup cannot come back sooner than its
sender is woken).

    ops/wakeup-lateness.py --rate 1000 --duration 16 [--label "during ingest"]
"""
import argparse
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000, help="wakeups per second")
    parser.add_argument("--duration", type=float, default=16, help="seconds")
    parser.add_argument("--label", default="", help="printed after the figures")
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    total = int(args.rate * args.duration)
    lateness = []
    start = time.perf_counter()
    for n in range(total):
        intended = start + n / args.rate
        delay = intended - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        lateness.append(time.perf_counter() - intended)
    lateness.sort()

    def at(q):
        return lateness[min(len(lateness) - 1, int(q * len(lateness)))] * 1000

    label = f" ({args.label})" if args.label else ""
    print(f"wakeup lateness: {total} wakeups at {args.rate:g}/s; p50 {at(0.5):.2f} ms, p99 {at(0.99):.2f} ms, "
          f"p99.9 {at(0.999):.2f} ms, max {lateness[-1] * 1000:.2f} ms{label}")


main()
