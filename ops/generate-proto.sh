#!/usr/bin/env bash
# Regenerates the Swift code for proto/*.proto into Sources/StitchWire/Generated
# and the Python client's into clients/python/stitch_client/proto.
#
# The generated files are committed, so building Stitch never needs protoc or
# protoc-gen-swift. Run this only after editing a .proto file. It installs
# Debian's protoc when missing and builds swift-protobuf's protoc-gen-swift
# once into .build-protoc-gen-swift/ (a few minutes on a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT_PROTOBUF_VERSION=1.39.0   # keep equal to the version Package.swift resolves
PLUGIN_DIR=.build-protoc-gen-swift
OUT=Sources/StitchWire/Generated

if ! command -v protoc >/dev/null; then
  apt-get update -qq && apt-get install -y -qq protobuf-compiler
fi

plugin="$PLUGIN_DIR/src/.build/release/protoc-gen-swift"
if [ ! -x "$plugin" ]; then
  rm -rf "$PLUGIN_DIR/src"
  mkdir -p "$PLUGIN_DIR"
  if [ -d .build/checkouts/swift-protobuf ]; then
    # The package's own resolved checkout: works offline (a local mirror).
    cp -r .build/checkouts/swift-protobuf "$PLUGIN_DIR/src"
  else
    git clone --quiet https://github.com/apple/swift-protobuf.git "$PLUGIN_DIR/src"
    git -C "$PLUGIN_DIR/src" checkout --quiet "$SWIFT_PROTOBUF_VERSION"
  fi
  (cd "$PLUGIN_DIR/src" && swift build -c release --product protoc-gen-swift)
fi

mkdir -p "$OUT"
rm -f "$OUT"/*.pb.swift
protoc --plugin=protoc-gen-swift="$plugin" \
  --proto_path=proto \
  --swift_opt=Visibility=Public \
  --swift_out="$OUT" \
  proto/beacon.proto proto/query.proto proto/log.proto
# The Python client's modules: query.proto imports beacon.proto and log.proto,
# beacon.proto imports log.proto, as top-level modules; inside the package they
# are siblings.
PY_OUT=clients/python/stitch_client/proto
rm -f "$PY_OUT"/*_pb2.py
protoc --proto_path=proto --python_out="$PY_OUT" proto/beacon.proto proto/query.proto proto/log.proto
sed -i 's/^import \(beacon\|log\)_pb2 as/from . import \1_pb2 as/' "$PY_OUT/query_pb2.py" "$PY_OUT/beacon_pb2.py"
echo "generated: $(ls "$OUT") $(ls "$PY_OUT"/*_pb2.py | xargs -n1 basename)"
