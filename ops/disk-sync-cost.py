#!/usr/bin/env python3
"""What a commit's fdatasync costs on this disk, for scattered pages against
the same number of consecutive ones (issue 26).

An LMDB commit writes its dirty pages (lone pages with pwrite, runs of
consecutive pages with one writev) and then calls fdatasync. This writes N
4 KiB pages at random places in a preallocated file, syncs, then N
consecutive pages, syncs, and prints both times, for a few N. The gap is the
disk's cost per I/O request: what a commit of scattered B-tree leaves pays
beyond its bytes.

    ops/disk-sync-cost.py [--dir /tmp] [--file-gib 2] [--pages 300 1000 3000] [--rounds 2]
"""
import argparse
import os
import random
import tempfile
import time

PAGE = 4096


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the scratch file goes (the store's disk)")
    parser.add_argument("--file-gib", type=float, default=2, help="scratch file size; larger than a store's hot part")
    parser.add_argument("--pages", type=int, nargs="+", default=[300, 1000, 3000], help="pages per commit")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"disk-sync-cost: seed {args.seed}")
    pick = random.Random(args.seed)
    pages_total = int(args.file_gib * (1 << 30)) // PAGE
    descriptor, path = tempfile.mkstemp(prefix="stitch-sync-cost.", dir=args.dir)
    try:
        # Written once in full first, so the measured writes overwrite
        # allocated blocks, as LMDB's do (it reuses freed pages in place).
        chunk = b"\1" * (1 << 20)
        for offset in range(0, pages_total * PAGE, len(chunk)):
            os.pwrite(descriptor, chunk, offset)
        os.fsync(descriptor)
        page = b"\2" * PAGE
        print("| pages | scattered: write, fdatasync | consecutive: write, fdatasync |")
        print("|---|---|---|")
        for count in args.pages:
            for _ in range(args.rounds):
                times = []
                for scattered in (True, False):
                    if scattered:
                        spots = sorted(pick.sample(range(pages_total), count))
                    else:
                        first = pick.randrange(pages_total - count)
                    start = time.perf_counter()
                    if scattered:
                        for spot in spots:
                            os.pwrite(descriptor, page, spot * PAGE)
                    else:
                        os.pwrite(descriptor, page * count, first * PAGE)
                    written = time.perf_counter()
                    os.fdatasync(descriptor)
                    synced = time.perf_counter()
                    times.append(f"{(written - start) * 1000:.1f} ms, {(synced - written) * 1000:.1f} ms")
                print(f"| {count} | {times[0]} | {times[1]} |")
    finally:
        os.close(descriptor)
        os.unlink(path)


main()
