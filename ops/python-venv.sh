#!/usr/bin/env bash
# The Python client installed into a venv (.build-python/, from PyPI: protobuf
# 4.x, and pytest with `test`); prints the venv's python. Used by
# ops/python-client-test.sh and ops/attack-rss.sh.
#
#   ops/python-venv.sh [test]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build-python
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "./clients/python${1:+[$1]}" >&2
echo "$PWD/$venv/bin/python"
