"""Tests of the diagnostic tools in ops/ that read what a server left behind
(run by ops/test.sh with the test venv's pytest): each is run as its users
run it, on inputs built here whose right answer is known."""
import pathlib
import struct
import subprocess
import sys

OPS = pathlib.Path(__file__).resolve().parent.parent
PAGE = 4096


def run(script, *arguments):
    done = subprocess.run([sys.executable, str(OPS / script), *map(str, arguments)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def lmdb_page(number, flags, nodes):
    """An LMDB page: header, node offsets, and the nodes (lo, hi, flags, key size, key, data) packed from the end."""
    page = bytearray(PAGE)
    upper = PAGE
    offsets = []
    for key, data, node_flags in nodes:
        size = 8 + len(key) + len(data)
        upper -= size + (size & 1)
        low, high = (len(data) & 0xFFFF, len(data) >> 16) if flags & 0x02 else (number & 0xFFFF, 0)
        struct.pack_into("<HHHH", page, upper, low, high, node_flags, len(key))
        page[upper + 8:upper + 8 + len(key)] = key
        page[upper + 8 + len(key):upper + size] = data
        offsets.append(upper)
    struct.pack_into("<QHHHH", page, 0, number, 0, flags, 16 + 2 * len(offsets), upper)
    for index, offset in enumerate(offsets):
        struct.pack_into("<H", page, 16 + 2 * index, offset)
    return bytes(page)


def node_record(kind, value):
    record = bytearray(116)
    record[36] = kind
    struct.pack_into("<H", record, 104, len(value))
    return bytes(record) + value


def test_commit_pages_names_tables_and_counts_writes(tmp_path):
    data = tmp_path / "data.mdb"
    data.write_bytes(
        lmdb_page(0, 0x08, []) + lmdb_page(1, 0x08, [])
        + lmdb_page(2, 0x02, [(struct.pack(">Q", 7), node_record(2, b"cookie-value"), 0)])
        + lmdb_page(3, 0x02, [(bytes(24), b"\x01", 0), (bytes(23) + b"\x01", b"\x02", 0)])
        + lmdb_page(4, 0x01, [(b"", b"", 0), (struct.pack(">Q", 9), b"", 0)]))
    trace = tmp_path / "strace.txt"
    # Two commits on descriptor 11 (meta pages on 12 are not counted); the
    # second is split across threads the way strace -f prints it.
    trace.write_text(
        '100  pwrite64(11, "x"..., 4096, 16384) = 4096\n'
        '100  fdatasync(11)                     = 0\n'
        '100  pwrite64(12, "m"..., 4096, 0) = 4096\n'
        '100  lseek(11, 8192, SEEK_SET)   = 8192\n'
        '101  pwrite64(13, "y"..., 4096, 0) = 4096\n'
        '100  writev(11, [{iov_base="a"..., iov_len=4096}, {iov_base="b"..., iov_len=4096}], 2 <unfinished ...>\n'
        '100  <... writev resumed>)            = 8192\n'
        '100  pwrite64(11, "z"..., 4096, 16384 <unfinished ...>\n'
        '100  <... pwrite64 resumed>)          = 4096\n'
        '100  fdatasync(11 <unfinished ...>\n')
    out = run("commit-pages.py", "--trace", trace, "--fd", 11, "--commits", 2, data)
    commits = out.split("commit: ")[1:]
    assert len(commits) == 2, out
    assert commits[0].startswith("1 pages in 1 writes (1 lone pages)")
    assert "branch, 8-byte keys" in commits[0]
    assert commits[1].startswith("3 pages in 2 writes (1 lone pages)")
    for table in ("node", "event (index)", "branch, 8-byte keys"):
        assert f"  {table}\n" in commits[1], out


def test_commit_pages_says_when_the_descriptor_wrote_nothing(tmp_path):
    trace = tmp_path / "strace.txt"
    trace.write_text('100  pwrite64(12, "m"..., 4096, 0) = 4096\n100  fdatasync(12) = 0\n')
    (tmp_path / "data.mdb").write_bytes(bytes(PAGE))
    done = subprocess.run([sys.executable, str(OPS / "commit-pages.py"), "--trace", str(trace), "--fd", "11",
                           str(tmp_path / "data.mdb")], capture_output=True, text=True)
    assert done.returncode != 0
    assert "no page writes followed by fdatasync on descriptor 11" in done.stderr


def test_histogram_share_counts_only_the_run_and_the_chosen_series(tmp_path):
    def scrape(lookup, history):
        lines = []
        for kind, counts in (("lookup", lookup), ("history", history)):
            for bound, count in zip(("0.0001", "0.001", "+Inf"), counts):
                lines.append(f'stitch_query_seconds_bucket{{type="{kind}",le="{bound}"}} {count}')
        return "\n".join(lines) + "\n"

    before, after = tmp_path / "before.txt", tmp_path / "after.txt"
    before.write_text(scrape((10, 10, 10), (0, 0, 0)))
    # In the run: 90 lookups ≤ 0.1 ms, 9 more ≤ 1 ms, 1 slower; histories elsewhere.
    after.write_text(scrape((100, 109, 110), (0, 0, 50)))
    out = run("histogram-share.py", before, after, "stitch_query_seconds", "--label", "type=lookup")
    assert "100 observed" in out
    assert "≤0.1 ms 90.0%" in out and "≤1 ms 99.0%" in out, out
    both = run("histogram-share.py", before, after, "stitch_query_seconds")
    assert "150 observed" in both and "≤0.1 ms 60.0%" in both, both


def test_folio_write_bench_times_each_way_and_cleans_up(tmp_path):
    out = run("folio-write-bench.py", "--dir", tmp_path, "--size-mib", 8, "--count", 2000)
    rows = [line for line in out.splitlines() if "µs a write" in line]
    assert [row.split("filled with")[1].split("  ")[0].strip() for row in rows] == [
        "2 MiB writes", "64-page writev", "4 KiB writes", "prepared"]
    assert all(float(row.split()[-4]) > 0 for row in rows)
    assert list(tmp_path.iterdir()) == []
