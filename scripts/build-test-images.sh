#!/usr/bin/env bash
# Build ecsemu's test images offline, from tests/images/<name>/ plus Debian's static busybox.
#
#   ecsemu-test/web:latest   VERSION=v1
#   ecsemu-test/web:v2       VERSION=v2 (same layers but the last few; a second deployment's image)
#
# The build context is assembled in a temporary directory: the image's files, plus
# /bin/busybox from the busybox-static package copied in as ./busybox (never committed).
# Docker's layer cache makes a rebuild of unchanged files take a second or so.
# Needs a running engine: run scripts/ensure-docker.sh first.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
web_dir="$repo_root/tests/images/web"
busybox_bin="${ECSEMU_BUSYBOX:-/bin/busybox}"

die() { printf 'build-test-images: error: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "docker does not answer; run scripts/ensure-docker.sh"
[[ -x "$busybox_bin" ]] || die "$busybox_bin missing; install busybox-static (scripts/ensure-docker.sh does)"
file_type="$(od -An -c -N4 "$busybox_bin" | tr -d ' ')"
[[ "$file_type" == "177ELF" ]] || die "$busybox_bin is not an ELF binary"
if command -v ldd >/dev/null 2>&1 && ldd "$busybox_bin" 2>&1 | grep -q '=>'; then
    die "$busybox_bin is dynamically linked; the image is FROM scratch and needs busybox-static"
fi

context="$(mktemp -d /tmp/ecsemu-test-web.XXXXXX)"
trap 'rm -rf "$context" "$context.err"' EXIT
cp -a "$web_dir/." "$context/"
cp "$busybox_bin" "$context/busybox"
chmod 0755 "$context/busybox"

now_ms() { date +%s%3N; }

build() { # tag version
    local t0 err
    t0="$(now_ms)"
    err="$context.err"
    # Without the buildx plugin the CLI falls back to the legacy builder and says so on stderr
    # at every build; keep stderr for failures only.
    if ! docker build -q --build-arg "VERSION=$2" -t "$1" "$context" >/dev/null 2>"$err"; then
        cat "$err" >&2
        die "building $1 failed"
    fi
    printf 'build-test-images: %s (VERSION=%s) built in %sms\n' "$1" "$2" "$(($(now_ms) - t0))"
}

build ecsemu-test/web:latest v1
build ecsemu-test/web:v2 v2
