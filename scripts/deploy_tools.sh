#!/usr/bin/env bash
# The tools tests/deploy reads the deployment files with, built once from their Go modules
# (no Docker engine needed); prints the path of each tool named on the command line.
#
#   compose       the docker compose CLI: `config` resolves a compose file (YAML merges,
#                 variable interpolation, defaults) exactly as `docker compose up` does
#   dockerignore  scripts/dockerignore: Docker's own .dockerignore reader and matcher
#
# Binaries live in ~/.cache/digitbridge/bin (DIGITBRIDGE_CACHE moves ~/.cache/digitbridge),
# named by version, so a new pin builds a new binary and an unchanged one is a no-op.
# Usage: scripts/deploy_tools.sh compose dockerignore
set -euo pipefail

# The one place the compose version is pinned. Newer releases need a newer Go than 1.26.8
# (v5.7.0 wants 1.26.10); Go >= 1.21 fetches the toolchain a module asks for by itself.
COMPOSE_VERSION=v5.6.0
COMPOSE_MODULE=github.com/docker/compose/v5

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR="${DIGITBRIDGE_CACHE:-$HOME/.cache/digitbridge}/bin"
# go.env may say GOTOOLCHAIN=local; let a module's `go` line fetch its toolchain instead.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:-} -buildvcs=false"

go_cmd() {
    local go
    go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x "$go" ]] || { echo "deploy_tools: needs Go (scripts/system_deps.sh go installs it)" >&2; exit 1; }
    "$go" "$@"
}

# Each build writes $OUT, a temporary file beside the target, renamed when complete: never a
# half-written binary. SRC is a writable copy of a module's source.
OUT="" SRC=""
trap 'rm -rf "$OUT" "$SRC"' EXIT

build_compose() {
    # The module's own go.mod and go.sum, as its main module (`go install mod@version` refuses
    # modules with exclude directives, which compose's go.mod has), built as its Makefile does.
    local dir
    dir=$(cd "$BIN_DIR" && go_cmd mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [[ -d "$dir" ]] || { echo "deploy_tools: could not download $COMPOSE_MODULE@$COMPOSE_VERSION" >&2; exit 1; }
    SRC=$(mktemp -d)
    cp -r "$dir/." "$SRC"
    chmod -R u+w "$SRC"
    (cd "$SRC" && CGO_ENABLED=0 go_cmd build -trimpath \
        -ldflags "-w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" -o "$OUT" ./cmd)
}

build_dockerignore() {
    (cd "$ROOT/scripts/dockerignore" && CGO_ENABLED=0 go_cmd build -trimpath -o "$OUT" .)
}

for tool in "$@"; do
    case "$tool" in
        compose)
            target="$BIN_DIR/docker-compose-$COMPOSE_VERSION"
            builder=build_compose
            ;;
        dockerignore)
            # Named by the content of its sources: an edit or a new pin builds afresh.
            hash=$(cat "$ROOT"/scripts/dockerignore/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)
            target="$BIN_DIR/dockerignore-$hash"
            builder=build_dockerignore
            ;;
        *)
            echo "deploy_tools: unknown tool '$tool' (compose, dockerignore)" >&2
            exit 2
            ;;
    esac
    if [[ ! -x "$target" ]]; then
        echo "deploy_tools: building $tool (the first time only) ..." >&2
        mkdir -p "$BIN_DIR"
        OUT=$(mktemp "$target.XXXXXX")
        "$builder" >&2
        chmod +x "$OUT"
        mv -f "$OUT" "$target"
    fi
    echo "$target"
done
