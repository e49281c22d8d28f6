#!/usr/bin/env bash
# Does one site's flood delay another site's acks (issue 28)? Side by side in
# one run, a fresh `stitch serve` each:
#   alone        site 2 alone: paced VICTIM_RATE beacons/s;
#   flood+quota  the same while site 1 floods unpaced, with
#                site_beacons_per_second=1=QUOTA (site 1 refused over it);
#   flood        the same flood without quotas.
# The flooding generator runs under SCHED_IDLE (`chrt --idle`), as if on
# another machine; the victim's and the server's threads (ingest_priority =
# normal) at normal priority, so the flooder gets only CPU neither wants.
# Prints site 2's acked rate and ack latency for each, and the flood's.
#
#   [ROUNDS=N] [SERVE_SET=name=value] ops/quota-bench.sh [STITCH_BINARY] [SECONDS] [VICTIM_RATE] [QUOTA]
#   # defaults: .build/release/stitch, 15, 10000, 20000; ROUNDS=1
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/release/stitch}")"
seconds="${2:-15}"
victim_rate="${3:-10000}"
quota="${4:-20000}"
source ops/lib/stitch-serve.sh
trap 'stitch_stop' EXIT
load() { "$stitch" load --port "$(port ingest)" --batch 50 --sites 1 "$@"; }
run() {
  local label="$1" flood="$2"
  shift 2
  local work
  work="$(mktemp -d /tmp/stitch-quota-bench.XXXXXX)"
  # At its default (idle) the server's ingest threads would share the idle
  # class with the flooder, which stands for another machine.
  # shellcheck disable=SC2086  # SERVE_SET: settings separated by spaces
  stitch_serve "$stitch" "$work" --set ingest_priority=normal $(for s in ${SERVE_SET:-}; do printf -- "--set %s " "$s"; done) "$@"
  local flood_pid=""
  if [ "$flood" = yes ]; then
    local received
    received="$(metric stitch_beacons_received_total)"
    # The flooder stands for another machine: under SCHED_IDLE it takes no CPU
    # the server or the victim's generator wants (unpaced against refusals it
    # would otherwise spin on these two cores).
    chrt --idle 0 "$stitch" load --port "$(port ingest)" --batch 50 --sites 1 --first-site 1 --connections 4 \
      --duration $((seconds + 12)) --seed 7 >"$work/flood.txt" &
    flood_pid=$!
    while [ "$(metric stitch_beacons_received_total)" = "$received" ]; do sleep 0.2; done
  fi
  printf '%-12s site 2: ' "$label"
  load --first-site 2 --connections 2 --rate "$victim_rate" --duration "$seconds" --seed 9 |
    grep -E '^acked|^ack latency' | tr '\n' ' ' | sed 's/  */ /g'
  echo
  if [ -n "$flood_pid" ]; then
    wait "$flood_pid" || true
    printf '%-12s site 1: ' ""
    grep -E '^acked' "$work/flood.txt" | sed 's/  */ /g'
  fi
  stitch_stop
  sleep 1
  rm -rf "$work"
}
# Site 2's p99 over one run varies by 2× on this machine: ROUNDS=N repeats
# the first two side by side, alternating, before the unlimited flood.
for _ in $(seq "${ROUNDS:-1}"); do
  run alone no
  run flood+quota yes --set "site_beacons_per_second=1=$quota"
done
run flood yes
