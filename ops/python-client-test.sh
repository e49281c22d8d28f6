#!/usr/bin/env bash
# The Python client's tests (clients/python/tests, pytest) against a real
# `stitch serve` they start themselves: installs the package into a venv
# (ops/python-venv.sh: .build-python/, protobuf 4.x and pytest from PyPI) and runs them.
#
#   ops/python-client-test.sh [TEST_STITCH_BINARY] [pytest arguments…]   # default .build/debug/stitch
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
binary="$(realpath "${1:-.build/debug/stitch}")"
shift || true
python="$(ops/python-venv.sh test)"
TEST_STITCH_BINARY="$binary" "$python" -m pytest -q clients/python/tests "$@"
