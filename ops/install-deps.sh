#!/usr/bin/env bash
# Installs the system libraries Stitch builds against, only when missing:
# LMDB (liblmdb-dev), zlib (zlib1g-dev), the NATS C client (libnats-dev) and
# pkg-config, which SwiftPM uses to find them. Safe to run every time; does nothing when all are present.
#
#   ops/install-deps.sh           what the build and `stitch serve` need
#   ops/install-deps.sh --tests   also the tests' tools: Node (nodejs) runs the
#                                 tracker's wire code, the browser test drives a
#                                 headless Chromium (chromium, chromium-driver), the
#                                 monitoring test runs Prometheus and promtool
#                                 (prometheus) and systemd-analyze (systemd), the
#                                 Python client's tests a venv (python3-venv) and pip,
#                                 the replicated log's tests a NATS server (nats-server)
#   ops/install-deps.sh --python  only python3 and its venv (ops/attack-rss.sh)
#   ops/install-deps.sh --cluster also a NATS server (nats-server), for ops/cluster.sh
set -euo pipefail

missing=()
pkg-config --exists lmdb 2>/dev/null || missing+=(liblmdb-dev)
pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
pkg-config --exists libnats 2>/dev/null || missing+=(libnats-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [ "${1:-}" = "--tests" ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  command -v curl >/dev/null || missing+=(curl)
  command -v nats-server >/dev/null || missing+=(nats-server)
fi
if [ "${1:-}" = "--cluster" ]; then
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
fi
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--python" ]; then
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
fi
command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.1 or newer)" >&2; exit 1; }

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
