#!/usr/bin/env bash
# Install the `hey` HTTP load generator (a native, closed-loop client) for `make bench`.
#
# Built from its Go module (the Go module proxy is reachable where GitHub releases are not)
# into ~/.cache/digitbridge/bin. Idempotent: a no-op when that exact version is installed.
# Prints the binary's path on its last line.
set -euo pipefail

HEY_MODULE="github.com/rakyll/hey"
HEY_VERSION="v0.1.4"   # pinned: bench/load.py parses this version's CSV output
BIN_DIR="${DIGITBRIDGE_CACHE:-$HOME/.cache/digitbridge}/bin"
TARGET="$BIN_DIR/hey-$HEY_VERSION"

if [[ -x "$TARGET" ]]; then
    echo "$TARGET"
    exit 0
fi

GO=$(command -v go || echo /usr/local/go/bin/go)
[[ -x "$GO" ]] || { echo "build_hey: needs Go (https://go.dev/dl) to build hey $HEY_VERSION" >&2; exit 1; }
mkdir -p "$BIN_DIR"
TMP=$(mktemp -d "$BIN_DIR/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "hey $HEY_VERSION: building from the Go module..." >&2
GOBIN="$TMP" GOFLAGS=-mod=mod "$GO" install "$HEY_MODULE@$HEY_VERSION" >&2
mv -f "$TMP/hey" "$TARGET"   # atomic within one folder
echo "$TARGET"
