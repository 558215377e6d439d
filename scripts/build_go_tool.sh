#!/usr/bin/env bash
# Install a pinned Go command-line tool for `make bench` and print its path on the last line:
#   scripts/build_go_tool.sh hey   (the HTTP load generator)
#   scripts/build_go_tool.sh ghz   (the gRPC load generator: Weaviate's own query ceiling)
# Built from its Go module (the Go module proxy is reachable where GitHub releases may not be)
# into ~/.cache/digitbridge/bin; a no-op when that version is there.
set -euo pipefail

case "${1:-}" in
    hey) PACKAGE="github.com/rakyll/hey" VERSION="v0.1.4" ;;  # bench/load.py parses this version's summary
    ghz) PACKAGE="github.com/bojand/ghz/cmd/ghz" VERSION="v0.120.0" ;;  # bench/grpc_ceiling.py reads its JSON
    *) echo "usage: $0 hey|ghz" >&2; exit 2 ;;
esac
NAME="$1"
BIN_DIR="${DIGITBRIDGE_CACHE:-$HOME/.cache/digitbridge}/bin"
TARGET="$BIN_DIR/$NAME-$VERSION"

[[ -x "$TARGET" ]] && { echo "$TARGET"; exit 0; }

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
if [[ ! -x "$GO" ]]; then
    echo "build_go_tool: building $NAME $VERSION needs Go (https://go.dev/dl), or put $NAME at $TARGET" >&2
    exit 1
fi
mkdir -p "$BIN_DIR"
STAGING=$(mktemp -d "$BIN_DIR/.$NAME.XXXXXX")
trap 'rm -rf "$STAGING"' EXIT
echo "$NAME $VERSION: building from the Go module..." >&2
GOBIN="$STAGING" "$GO" install "$PACKAGE@$VERSION" >&2
mv -f "$STAGING/$NAME" "$TARGET"   # a rename within one folder: never a half-written binary
echo "$TARGET"
