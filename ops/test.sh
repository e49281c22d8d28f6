#!/usr/bin/env bash
# The test command: installs what is missing, builds once, runs every test.
#
#   ops/test.sh [extra `swift test` arguments, e.g. --filter Golden]
#
# Randomized tests print their seed; replay one with STITCH_TEST_SEED=N.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
# Test-only tools: the tracker's wire test runs its JavaScript in Node
# (nodejs); the browser test drives a headless Chromium (chromium,
# chromium-driver).
test_missing=()
command -v node >/dev/null || test_missing+=(nodejs)
command -v chromium >/dev/null || test_missing+=(chromium)
command -v chromedriver >/dev/null || test_missing+=(chromium-driver)
if [ ${#test_missing[@]} -gt 0 ]; then
  echo "installing for the tests: ${test_missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${test_missing[@]}" >/dev/null
fi
swift build --build-tests
swift test --skip-build "$@"
