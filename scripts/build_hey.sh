#!/usr/bin/env bash
# Install the `hey` HTTP load generator (a native, closed-loop client) for `make bench`, and print
# its path on the last line. Built from its Go module (the Go module proxy is reachable where
# GitHub releases may not be) into ~/.cache/digitbridge/bin; a no-op when that version is there.
set -euo pipefail

HEY_VERSION="v0.1.4"   # pinned: bench/load.py parses this version's text summary
BIN_DIR="${DIGITBRIDGE_CACHE:-$HOME/.cache/digitbridge}/bin"
TARGET="$BIN_DIR/hey-$HEY_VERSION"

[[ -x "$TARGET" ]] && { echo "$TARGET"; exit 0; }

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
if [[ ! -x "$GO" ]]; then
    echo "build_hey: building hey $HEY_VERSION needs Go (https://go.dev/dl), or put hey at $TARGET" >&2
    exit 1
fi
mkdir -p "$BIN_DIR"
STAGING=$(mktemp -d "$BIN_DIR/.hey.XXXXXX")
trap 'rm -rf "$STAGING"' EXIT
echo "hey $HEY_VERSION: building from the Go module..." >&2
GOBIN="$STAGING" "$GO" install "github.com/rakyll/hey@$HEY_VERSION" >&2
mv -f "$STAGING/hey" "$TARGET"   # a rename within one folder: never a half-written binary
echo "$TARGET"
