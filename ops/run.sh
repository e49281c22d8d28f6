#!/usr/bin/env bash
# The run command: installs what is missing, builds Stitch in release mode and
# runs it. With no arguments it shows what Stitch does (`stitch --help`) and
# normalizes a sample phone number; with arguments it runs `stitch ARGS…`.
#
#   ops/run.sh                                   # overview and a sample
#   ops/run.sh normalize email ' Ivan@Mail.RU '  # any subcommand
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
swift build -c release --product stitch >&2
stitch=.build/release/stitch
if [ $# -gt 0 ]; then
  exec "$stitch" "$@"
fi
"$stitch" --help
echo
echo "\$ stitch normalize phone '8 (495) 123-45-67'"
"$stitch" normalize phone '8 (495) 123-45-67'
