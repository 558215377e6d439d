#!/usr/bin/env bash
# The system (Debian) packages a make target needs, installed when missing.
#
#   scripts/system_deps.sh venv   what `$PYTHON -m venv` needs (Debian splits it off python3)
#   scripts/system_deps.sh go     Go: builds the Weaviate server and the deploy test tools
#   scripts/system_deps.sh test   everything the test suite needs (Go included):
#                                 espeak-ng, Asterisk's English prompts and DejaVu/
#                                 Liberation/FreeFont fonts (out-of-distribution uploads),
#                                 Chromium (browser tests), flite and festival with its
#                                 voices (training's synthetic speakers,
#                                 training/tts_speakers.py, training/festival_speakers.py)
#   scripts/system_deps.sh train  what `make train` needs beyond the venv: flite, festival
#
# A no-op (a few file checks) when everything is there. Otherwise apt-get installs what is
# missing, as root or through passwordless sudo; without either it names the packages and
# the command to run, and fails.
set -euo pipefail

# Go 1.21 is the first that fetches the toolchain a module's `go` line asks for
# (GOTOOLCHAIN=auto), so any newer Go can build the pinned modules.
GO_MIN=1.21

has_go() {
    local go version
    go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x "$go" ]] || return 1
    version=$("$go" env GOVERSION 2>/dev/null) || return 1  # e.g. go1.26.8
    version=${version#go}
    [[ "$(printf '%s\n%s\n' "$GO_MIN" "$version" | sort -V | head -1)" == "$GO_MIN" ]]
}

missing=()
need() {  # <debian package> <check command...>
    local package=$1
    shift
    "$@" >/dev/null 2>&1 || missing+=("$package")
}

# Training's synthetic speakers. The festvox list is training/festival_speakers.py's voices.
FESTIVAL_VOICES=(festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-czech-krb
    festvox-czech-dita festvox-italp16k festvox-suopuhe-lj festvox-ca-ona-hts)
installed() {  # <debian package>: installed (not merely known, or removed with its config kept)
    dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
need_voices() {
    need flite command -v flite
    need festival command -v text2wave
    local package
    for package in "${FESTIVAL_VOICES[@]}"; do
        need "$package" installed "$package"
    done
}

for group in "${@:-test}"; do
    case "$group" in
        venv)
            need python3-venv "${PYTHON:-python3}" -c "import ensurepip, venv"
            ;;
        go)
            need golang-go has_go
            ;;
        test)
            need golang-go has_go
            need espeak-ng command -v espeak-ng
            # The fonts training/ood/rendered_digits.py draws with (the committed report names them).
            need fonts-dejavu-core test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
            need fonts-dejavu-extra test -e /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf
            need fonts-liberation test -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf
            need fonts-freefont-ttf test -e /usr/share/fonts/truetype/freefont/FreeSans.ttf
            need chromium command -v chromium
            # training/ood/real_voice.py: a real woman's digit recordings (Asterisk's prompts)
            need asterisk-core-sounds-en-g722 test -e /usr/share/asterisk/sounds/en_US_f_Allison/digits/9.g722
            need_voices
            ;;
        train)
            need_voices
            ;;
        *)
            echo "system_deps: unknown group '$group' (venv, go, test, train)" >&2
            exit 2
            ;;
    esac
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# The same package can be named by two groups.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "system_deps: missing system packages: ${missing[*]}" >&2
    echo "  install them (as root) with:  apt-get update && ${install[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "system_deps: missing system packages: ${missing[*]} (Debian names); no apt-get here," >&2
    echo "  install them with this system's package manager" >&2
    exit 1
fi
echo "system_deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${install[@]}"

if [[ " ${missing[*]} " == *" golang-go "* ]] && ! has_go; then
    echo "system_deps: this system's golang-go is older than Go $GO_MIN, which the builds need;" >&2
    echo "  install a newer Go (https://go.dev/dl) and put it on PATH" >&2
    exit 1
fi
