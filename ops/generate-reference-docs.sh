#!/usr/bin/env bash
# Regenerates the two reference pages from the binary, so they cannot drift:
#   docs/configuration.md  docs/parts/configuration-head.md + `stitch serve --settings-reference`
#   docs/metrics.md        docs/parts/metrics-head.md + `stitch serve --metrics-reference`
# Run it after adding or changing a setting or a metric; `DocsTests` fails until then.
#
#   ops/generate-reference-docs.sh [STITCH_BINARY]   # default .build/debug/stitch
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="${1:-.build/debug/stitch}"
{ cat docs/parts/configuration-head.md; "$stitch" serve --settings-reference; } > docs/configuration.md
{ cat docs/parts/metrics-head.md; "$stitch" serve --metrics-reference; } > docs/metrics.md
echo "wrote docs/configuration.md ($(grep -c '^| `' docs/configuration.md) settings), docs/metrics.md ($(grep -c '^| `' docs/metrics.md) metrics)"
