#!/usr/bin/env bash
# The Python client's tests (clients/python/tests, pytest) against a real
# `stitch serve` they start themselves: installs the package into a venv
# (.build-python/, from PyPI: protobuf 4.x, pytest) and runs them.
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
venv=.build-python
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "./clients/python[test]"
TEST_STITCH_BINARY="$binary" "$venv/bin/python" -m pytest -q clients/python/tests "$@"
