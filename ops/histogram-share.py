#!/usr/bin/env python3
"""The server's own side of a latency, from two scrapes of /metrics taken
before and after a run: what share of one histogram's observations in that
run fell within each bucket bound.

`stitch load` and the probe measure from outside, wakeups and all; this
says how much of it the server itself spent: `stitch_query_seconds` (a
lookup's time in the server) or `stitch_batch_ack_seconds` (a batch's time
from arrival to its ack). ops/scale-latency.sh prints both.

    ops/histogram-share.py BEFORE.txt AFTER.txt stitch_query_seconds [--label type=lookup]
"""
import argparse
import re

SAMPLE = re.compile(r'^(\w+)_bucket\{(.*)\} (\S+)$')


def buckets(path, name, label):
    """Cumulative counts by upper bound (seconds), summed over the series that match."""
    counts = {}
    with open(path) as scrape:
        for line in scrape:
            match = SAMPLE.match(line.strip())
            if not match or match.group(1) != name:
                continue
            labels = dict(part.split("=", 1) for part in re.findall(r'(\w+="[^"]*")', match.group(2)))
            labels = {key: value.strip('"') for key, value in labels.items()}
            if label and labels.get(label[0]) != label[1]:
                continue
            bound = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            counts[bound] = counts.get(bound, 0) + float(match.group(3))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("name", help="a histogram's name, without _bucket")
    parser.add_argument("--label", help="only series with this label value, as name=value")
    args = parser.parse_args()
    label = tuple(args.label.split("=", 1)) if args.label else None
    before, after = buckets(args.before, args.name, label), buckets(args.after, args.name, label)
    run = {bound: after[bound] - before.get(bound, 0) for bound in after}
    total = run.get(float("inf"), 0)
    if total <= 0:
        raise SystemExit(f"histogram-share: no {args.name} observations between the two scrapes")

    def shown(bound):
        return f"{bound * 1000:g} ms"

    shares = ", ".join(f"≤{shown(bound)} {100 * run[bound] / total:.1f}%" for bound in sorted(run) if bound != float("inf"))
    print(f"server side, {args.name}{' ' + args.label if args.label else ''}: {int(total)} observed; {shares}")


main()
