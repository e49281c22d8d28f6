#!/usr/bin/env bash
# Checks the operator's kit against the real tools (run by ops/test.sh):
#   1. ops/prometheus: `promtool check rules` and `promtool test rules` (alert unit tests);
#   2. ops/grafana/stitch.json: a real `stitch serve` under `stitch load` (beacons, lookups,
#      leases) and a cluster node (ops/cluster.sh: its log metrics) under a short load,
#      scraped every second by Debian's Prometheus; every panel's query is then
#      evaluated through Prometheus's HTTP API and any invalid query or one with no series fails;
#   3. ops/systemd/stitch.service: `systemd-analyze verify` (with ExecStart pointed at the
#      built binary), which must print nothing.
#
#   ops/monitoring-test.sh [STITCH_BINARY]     # default .build/debug/stitch
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/debug/stitch}")"
work="$(mktemp -d /tmp/stitch-monitoring.XXXXXX)"
source ops/lib/stop-processes.sh
cleanup() {
  ops/cluster.sh down "$work/cluster" 2>/dev/null || true
  # shellcheck disable=SC2046  # one pid per file
  stop_processes $(cat "$work"/*.pid 2>/dev/null)
  rm -rf "$work"
}
trap cleanup EXIT

echo "== alert rules"
promtool check rules ops/prometheus/stitch-rules.yml
(cd ops/prometheus && promtool test rules stitch-rules.test.yml)

echo "== systemd unit"
sed "s|/usr/local/bin/stitch|$stitch|" ops/systemd/stitch.service >"$work/stitch.service"
if ! systemd-analyze verify "$work/stitch.service" >"$work/verify.txt" 2>&1 || [ -s "$work/verify.txt" ]; then
  cat "$work/verify.txt"; echo "systemd-analyze verify complained about ops/systemd/stitch.service" >&2; exit 1
fi
echo "ok: systemd-analyze verify prints nothing"

echo "== dashboard against a real Prometheus"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
"$stitch" serve --data-dir "$work/data" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
  --ready-file "$work/ready.json" 2>"$work/serve.log" &
echo $! >"$work/stitch.pid"
for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
port() { python3 -c "import json;print(json.load(open('$work/ready.json'))['$1'])"; }
# A one-node cluster beside it, for the cluster panels (log lag, publishes).
ops/cluster.sh up "$work/cluster" --nodes 1 --replicas 1 --stitch "$stitch" >"$work/cluster.jsonl"
cluster() { python3 -c "import json;print([json.loads(l) for l in open('$work/cluster.jsonl') if '\"stitch\"' in l][0]['$1'])"; }
prometheus_port="$(free_port)"
cat >"$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$PWD/ops/prometheus/stitch-rules.yml]
scrape_configs:
  - job_name: stitch
    static_configs: [{targets: ["127.0.0.1:$(port http)", "127.0.0.1:$(cluster http)"]}]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &
echo $! >"$work/prometheus.pid"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$prometheus_port/-/ready" >/dev/null && break; sleep 0.2; done
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --rate 2000 --duration 6 --persons 2000 \
  --query-rate 100 >"$work/load.txt"
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --rate 500 --duration 3 --persons 2000 \
  --query-rate 50 --query-kind lease >"$work/load-leases.txt"
"$stitch" load --port "$(cluster ingest)" --query-port "$(cluster query)" --rate 1000 --duration 3 --persons 2000 \
  >"$work/load-cluster.txt"
# One query error for certain (the history of an identifier never seen is NOT_FOUND), so the
# errors-by-code query has its series whatever the random lookups met.
"$stitch" query history cookie cookie-never-seen-01 --site 1 --server "127.0.0.1:$(port query)" >/dev/null 2>&1 || true
sleep 3   # a few more scrapes after the last beacon
python3 ops/grafana/check_dashboard.py --prometheus "http://127.0.0.1:$prometheus_port" ops/grafana/stitch.json
curl -s "http://127.0.0.1:$prometheus_port/api/v1/rules" | python3 -c \
  'import json,sys; r=json.load(sys.stdin)["data"]["groups"][0]["rules"]; bad=[x["name"] for x in r if x["health"]!="ok"]; print(f"{len(r)} alert rules loaded by Prometheus, unhealthy: {bad or 0}"); sys.exit(1 if bad else 0)'
