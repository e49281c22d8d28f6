#!/usr/bin/env bash
# Regenerates the Swift types and server routing of the JSON query API from
# its contract, proto/openapi.yaml, into Sources/StitchAPI/Generated (issue 25).
#
# The generated files are committed, so building Stitch never runs the
# generator. Run this only after editing proto/openapi.yaml. It builds
# swift-openapi-generator once into .build-openapi-gen/ (about 2 minutes on a
# 2-core machine), from the package mirror, at the version Package.swift uses
# for the runtime's family.
set -euo pipefail
cd "$(dirname "$0")/.."

GENERATOR_VERSION=1.14.3
BUILD=.build-openapi-gen
OUT=Sources/StitchAPI/Generated

generator="$BUILD/src/.build/release/swift-openapi-generator"
if [ ! -x "$generator" ]; then
  rm -rf "$BUILD/src"
  mkdir -p "$BUILD"
  git clone --quiet https://github.com/apple/swift-openapi-generator.git "$BUILD/src"
  git -C "$BUILD/src" checkout --quiet "$GENERATOR_VERSION"
  (cd "$BUILD/src" && swift build -c release --product swift-openapi-generator)
fi

rm -rf "$OUT"
mkdir -p "$OUT"
"$generator" generate proto/openapi.yaml --mode types --mode server --access-modifier package \
  --naming-strategy idiomatic --output-directory "$OUT" >/dev/null
echo "generated: $(ls "$OUT" | tr '\n' ' ')"
