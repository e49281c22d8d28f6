#!/usr/bin/env bash
# The Python client's tests (clients/python/tests, pytest) against a real
# `stitch serve` they start themselves, twice: under the oldest protobuf the
# client's range allows and under the newest (ops/python-venv.sh makes both venvs).
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
for end in oldest newest; do
  python="$(ops/python-venv.sh test "$end")"
  echo "python client tests with protobuf $("$python" -c 'import google.protobuf as p; print(p.__version__)') ($end of the client's range)"
  TEST_STITCH_BINARY="$binary" "$python" -m pytest -q clients/python/tests "$@"
done
