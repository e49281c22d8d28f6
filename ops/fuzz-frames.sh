#!/usr/bin/env bash
# Fuzzes the frame decoder with libFuzzer for a given number of seconds.
#
#   ops/fuzz-frames.sh [SECONDS]     (default 600)
#
# Builds the stitch-fuzz-frames product with -sanitize=fuzzer into
# .build-fuzz/, seeds the corpus from proto/golden/*.hex, and runs. Findings
# (crash-*, timeout-*, oom-*) land in fuzz-corpus/findings/; replay one with
#   swift run stitch-fuzz-frames fuzz-corpus/findings/crash-…
# and add it as a regression test in Tests/StitchWireTests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}

ops/install-deps.sh
swift build -c release --sanitize=fuzzer --product stitch-fuzz-frames \
  --scratch-path .build-fuzz -Xswiftc -DFUZZING
fuzzer=.build-fuzz/release/stitch-fuzz-frames

corpus=fuzz-corpus/frames
findings=fuzz-corpus/findings
mkdir -p "$corpus" "$findings"
for hex in proto/golden/*.hex; do
  python3 - "$hex" "$corpus/golden-$(basename "$hex" .hex)" <<'PY'
import sys
text = "".join(line.split("#", 1)[0] for line in open(sys.argv[1]))
open(sys.argv[2], "wb").write(bytes.fromhex("".join(text.split())))
PY
done
printf 'magic="ST"\nversion_batch="\\x01\\x01"\nzlib_head="\\x78\\x9c"\n' > fuzz-corpus/frames.dict

echo "fuzzing for ${seconds}s; corpus $corpus, findings $findings"
"$fuzzer" "$corpus" -dict=fuzz-corpus/frames.dict -max_total_time="$seconds" \
  -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$findings/"
