#!/usr/bin/env bash
# Installs the system libraries Stitch builds against, only when missing:
# LMDB (liblmdb-dev), zlib (zlib1g-dev) and pkg-config, which SwiftPM uses to
# find them. Safe to run every time; does nothing when all are present.
#
#   ops/install-deps.sh           what the build and `stitch serve` need
#   ops/install-deps.sh --tests   also the tests' tools: Node (nodejs) runs the
#                                 tracker's wire code, the browser test drives a
#                                 headless Chromium (chromium, chromium-driver)
set -euo pipefail

missing=()
pkg-config --exists lmdb 2>/dev/null || missing+=(liblmdb-dev)
pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [ "${1:-}" = "--tests" ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
fi
command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.1 or newer)" >&2; exit 1; }

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
