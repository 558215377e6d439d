#!/usr/bin/env bash
# Put a Weaviate server binary where weaviate-client's embedded mode looks for it, so
# `weaviate.connect_to_embedded(version=X)` never tries to download from GitHub.
#
# The client (weaviate/embedded.py) runs the file
#   ${XDG_CACHE_HOME:-~/.cache/weaviate-embedded}/weaviate-v<X>-<sha256 hex of "v<X>">
# as a plain executable (it only downloads + unpacks a tarball when that file is missing).
# We build the same server from its Go module instead of downloading the release.
# Idempotent: a no-op when the binary is already there.
set -euo pipefail

cd "$(dirname "$0")/.."
# Single source of truth for the version: store/embedded/server.py.
VERSION=$(sed -n 's/^WEAVIATE_VERSION *= *"\([0-9.]*\)".*/\1/p' store/embedded/server.py)
[[ -n "$VERSION" ]] || { echo "build_weaviate: WEAVIATE_VERSION not found in store/embedded/server.py" >&2; exit 1; }
TAG="v$VERSION"
# Same default and env override as weaviate-client's EmbeddedOptions.binary_path.
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache/weaviate-embedded}"
TARGET="$CACHE_DIR/weaviate-$TAG-$(printf '%s' "$TAG" | sha256sum | cut -d' ' -f1)"

if [[ -x "$TARGET" ]]; then
    echo "weaviate $TAG: cached at $TARGET"
    exit 0
fi

GO=$(command -v go || echo /usr/local/go/bin/go)
[[ -x "$GO" ]] || { echo "build_weaviate: needs Go (https://go.dev/dl) to build weaviate $TAG" >&2; exit 1; }
mkdir -p "$CACHE_DIR"
TMP=$(mktemp -d "$CACHE_DIR/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Reuse a binary someone already built with `go install` if it is exactly this module version
# (WEAVIATE_REBUILD=1 forces a fresh build).
PREBUILT="$("$GO" env GOPATH)/bin/weaviate-server"
if [[ -z "${WEAVIATE_REBUILD:-}" && -x "$PREBUILT" ]] && "$GO" version -m "$PREBUILT" 2>/dev/null \
        | grep -qE "^[[:space:]]+mod[[:space:]]+github.com/weaviate/weaviate[[:space:]]+$TAG[[:space:]]"; then
    echo "weaviate $TAG: reusing $PREBUILT"
    cp "$PREBUILT" "$TMP/weaviate-server"
else
    echo "weaviate $TAG: building from the Go module (a few minutes the first time)..."
    GOBIN="$TMP" "$GO" install "github.com/weaviate/weaviate/cmd/weaviate-server@$TAG"
fi
chmod +x "$TMP/weaviate-server"
mv -f "$TMP/weaviate-server" "$TARGET"   # atomic within one folder: never a half-written binary
echo "weaviate $TAG: installed at $TARGET"
