#!/usr/bin/env python3
"""Which tables' pages one LMDB commit wrote (issue 26), from an strace of
the writer's page writes and the stopped store's data file.

LMDB writes each dirty page of a commit once, with pwrite64 (a lone page) or
lseek + writev (a run of consecutive pages), and then calls fdatasync on the
same descriptor. This reads that trace for one data file's descriptor, cuts
it into commits at each fdatasync, reads every page of the last commits back
from the data file, and names the table by the shape of the page's keys and
values (StoreKeys.swift: `node` 8-byte id → NodeRecord, `event` 24-byte key →
1 byte, `ident` site|kind|value, `dedup` 'a'|arrival|seq, `log` 8-byte seq →
StoredEvent). Branch pages are named by their key size. A page reused by a
later commit would be misnamed: read the last traced commits of a server that
stopped right after them (ops/commit-pages.sh does that).

Also counts runs: a lone page is one I/O request, a run of consecutive pages
one request too, and on a virtual disk each request costs far more than its
bytes (docs/performance.md).

    ops/commit-pages.py --trace strace.txt --fd 11 data/data.mdb [--commits 3]
"""
import argparse
import collections
import re
import struct

PAGE = 4096
P_BRANCH, P_LEAF, P_OVERFLOW, P_META, P_LEAF2 = 0x01, 0x02, 0x04, 0x08, 0x20
F_BIGDATA = 0x01
NODE_RECORD_FIXED = 116  # NodeRecord.fixedBytes


def commits_in(trace_path, fd):
    """The page runs (first page, pages) written on `fd`, one list per commit."""
    line_pattern = re.compile(r"\d+\s+(\w+)\((\d+)(.*)")
    commits, current, position = [], [], None
    with open(trace_path) as trace:
        for line in trace:
            match = line_pattern.match(line)
            if not match or match.group(2) != str(fd):
                continue
            call, rest = match.group(1), match.group(3)
            if call == "lseek":
                seek = re.match(r",\s*(\d+), SEEK_SET", rest)
                position = int(seek.group(1)) if seek else None
            elif call == "pwrite64":
                write = re.search(r", (\d+), (\d+)(\)| <unfinished)", rest)
                if write:
                    current.append((int(write.group(2)) // PAGE, int(write.group(1)) // PAGE))
            elif call == "writev":
                write = re.search(r"\], (\d+)(\)| <unfinished)", rest)
                if write and position is not None:
                    current.append((position // PAGE, int(write.group(1))))
            elif call == "fdatasync" and current:
                commits.append(current)
                current = []
    return commits


def table_of(page):
    """A name for the table (and level) a page belongs to, from its contents."""
    _, _, flags, lower, _ = struct.unpack_from("<QHHHH", page, 0)
    if flags & P_META:
        return "meta"
    if flags & P_OVERFLOW:
        return "overflow (a large value: freelist or a big record)"
    if flags & P_LEAF2:
        return "leaf2 (dupfixed)"
    count = (lower - 16) // 2
    if count <= 0 or not flags & (P_BRANCH | P_LEAF):
        return "empty or unknown"
    index = 1 if flags & P_BRANCH and count > 1 else 0  # a branch's first key is empty
    offset = struct.unpack_from("<H", page, 16 + 2 * index)[0]
    low, high, node_flags, key_size = struct.unpack_from("<HHHH", page, offset)
    key = page[offset + 8:offset + 8 + key_size]
    if flags & P_BRANCH:
        return f"branch, {key_size}-byte keys"
    data_size = low | (high << 16)
    value = page[offset + 8 + key_size:offset + 8 + key_size + data_size]
    if key_size == 24 and data_size == 1:
        return "event (index)"
    if key_size == 17 and key[:1] == b"a":
        return "dedup"
    if key_size == 8 and not node_flags & F_BIGDATA:
        if (data_size >= NODE_RECORD_FIXED and len(value) >= NODE_RECORD_FIXED and 1 <= value[36] <= 12
                and struct.unpack_from("<H", value, 104)[0] + NODE_RECORD_FIXED == data_size):
            return "node"
        if data_size % 8 == 0 and data_size >= 8 and struct.unpack_from("<Q", value, 0)[0] == data_size // 8 - 1:
            return "freelist"
        return "log (8-byte key, other value)"
    if key_size >= 6 and 1 <= key[4] <= 12:
        return "ident"
    return f"leaf, {key_size}-byte keys"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", required=True, help="strace -f -e trace=pwrite64,writev,lseek,fdatasync output")
    parser.add_argument("--fd", type=int, required=True, help="the data file's read-write descriptor in the trace")
    parser.add_argument("--commits", type=int, default=3, help="how many of the last commits to break down")
    parser.add_argument("data_file", help="the data.mdb those writes went to")
    args = parser.parse_args()
    commits = commits_in(args.trace, args.fd)
    if not commits:
        raise SystemExit(f"commit-pages: no page writes followed by fdatasync on descriptor {args.fd} in {args.trace}")
    with open(args.data_file, "rb") as data:
        for runs in commits[-args.commits:]:
            tables = collections.Counter()
            for first, pages in runs:
                data.seek(first * PAGE)
                block = data.read(pages * PAGE)
                for start in range(0, len(block) - PAGE + 1, PAGE):
                    tables[table_of(block[start:start + PAGE])] += 1
            total = sum(tables.values())
            lone = sum(1 for _, pages in runs if pages == 1)
            print(f"commit: {total} pages in {len(runs)} writes ({lone} lone pages)")
            for table, pages in tables.most_common():
                print(f"  {pages:6d}  {100 * pages / total:5.1f}%  {table}")


main()
