#!/usr/bin/env python3
"""What one 4 KiB write of an LMDB page costs the kernel, by how the page's
range first came into the page cache (docs/performance.md, "Tried, not kept:
the data file's tail prepared page by page").

For each way below, a fresh file of SIZE MiB is filled, then COUNT random
page-aligned 4 KiB writes are timed (wall time per write, this process only):

  2 MiB writes       the file written in 2 MiB chunks (as `cp` does)
  64-page writev     in runs of 64 pages, as LMDB's commit writes new pages
  4 KiB writes       one page per write
  prepared           fallocate, then read back page by page with readahead
                     off, then the 64-page runs (what the experiment did)

On Linux 6.16+ ext4 caches a range first written in one large write as one
large folio, and a later 4 KiB write into it walks all the folio's blocks.

    ops/folio-write-bench.py [--dir DIR] [--size-mib 1024] [--count 200000]
"""
import argparse
import os
import random
import time

PAGE = 4096


def fill(path, size, how):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    if how == "prepared":
        os.posix_fallocate(fd, 0, size)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        for offset in range(0, size, 256 << 10):
            os.pread(fd, 256 << 10, offset)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_NORMAL)
    chunk = {"2 MiB writes": 2 << 20, "4 KiB writes": PAGE}.get(how, 64 * PAGE)
    if chunk == 64 * PAGE:
        pages = [bytes([1]) * PAGE] * 64
        for offset in range(0, size, chunk):
            os.pwritev(fd, pages, offset)
    else:
        block = bytes([1]) * chunk
        for offset in range(0, size, chunk):
            os.pwrite(fd, block, offset)
    os.fdatasync(fd)
    return fd


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default="/tmp", help="a directory on the file system to measure (default /tmp)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    size = args.size_mib << 20
    path = os.path.join(args.dir, f"folio-write-bench.{os.getpid()}")
    page = bytes([2]) * PAGE
    print(f"{args.count} random 4 KiB writes into a {args.size_mib} MiB file in {args.dir} (seed {args.seed})")
    try:
        for how in ("2 MiB writes", "64-page writev", "4 KiB writes", "prepared"):
            fd = fill(path, size, how)
            offsets = random.Random(args.seed).choices(range(0, size, PAGE), k=args.count)
            started = time.perf_counter()
            for offset in offsets:
                os.pwrite(fd, page, offset)
            elapsed = time.perf_counter() - started
            os.close(fd)
            os.unlink(path)
            print(f"  filled with {how:<15} {elapsed / args.count * 1e6:6.2f} µs a write")
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
