# Sourced by ops scripts that start servers:
#
#   stop_processes PID…   # SIGTERM each, then wait (up to 30 s each) until it has exited
#
# A stopping `stitch serve` still writes its data directory (a last
# checkpoint, a group log file laid down ahead), so a script removes that
# directory only once the server has exited.
stop_processes() {
  local pid
  kill "$@" 2>/dev/null || true
  for pid in "$@"; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
}
