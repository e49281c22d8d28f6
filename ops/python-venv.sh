#!/usr/bin/env bash
# The Python client installed into a venv (from PyPI: protobuf, and pytest with
# `test`); prints the venv's python. Used by ops/python-client-test.sh and
# ops/attack-rss.sh.
#
#   ops/python-venv.sh [test] [oldest|newest]
#
# newest (the default, in .build-python/): the newest protobuf the client's range
# allows. oldest (in .build-python-oldest/): the lowest version of that range,
# read from clients/python/pyproject.toml, so the range's both ends are tried.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
end="${2:-newest}"
case "$end" in
  newest) venv=.build-python; pin=() ;;
  oldest)
    venv=.build-python-oldest
    lowest="$(sed -n 's/.*"protobuf>=\([0-9.]*\),.*/\1/p' clients/python/pyproject.toml)"
    [ -n "$lowest" ] || { echo "no protobuf>=X in clients/python/pyproject.toml" >&2; exit 1; }
    pin=("protobuf==$lowest") ;;
  *) echo "usage: ops/python-venv.sh [test] [oldest|newest]" >&2; exit 2 ;;
esac
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade "./clients/python${extra:+[$extra]}" ${pin[@]+"${pin[@]}"} >&2
echo "$PWD/$venv/bin/python"
