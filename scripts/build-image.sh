#!/usr/bin/env bash
# Build ecsemu's container image without any container registry.
#
#   scripts/build-image.sh [--tag NAME] [--base IMAGE] [--rebuild-base]
#
# 1. The base: IMAGE (default python:3.11-slim, or $ECSEMU_IMAGE_BASE) when the engine has it or
#    can pull it; otherwise a local base, ecsemu-base:local, imported from a root filesystem
#    assembled here from Debian packages: Python 3.11 with its shared libraries, venv/ensurepip
#    and its wheels, and busybox as the shell. Each package's files come from this machine's own
#    installation when it has the package (`dpkg -L`), else from the Debian mirror
#    (`apt-get download`, then `dpkg-deb`). No maintainer script runs; none of these needs one.
#    It is built once and reused (--rebuild-base makes it again; ECSEMU_BASE_FROM_MIRROR=1 takes
#    every package from the mirror, as on a machine that has none of them).
# 2. The wheels: the host's pip downloads ecsemu's runtime dependencies (and the setuptools its
#    build needs) as binary wheels into build/wheelhouse/, so that the image build installs with
#    --no-index and needs no network inside the build container.
# 3. The image: `docker build` of the repository's Dockerfile (its .dockerignore keeps the build
#    context to the package's sources), with BASE set to the base chosen in 1. ecsemu is
#    installed by `pip install <sources>` (a wheel build, not editable) into /opt/ecsemu.
#
# Every image made here carries the label ecsemu.image=true; the script touches no other image
# or container. Untagged images of ours are the build cache; `docker image prune --filter
# label=ecsemu.image=true` removes them. It prints one line per step with its duration. Needs a running engine
# (scripts/ensure-docker.sh) and, for the local base, root on Debian 12 (bookworm) or newer.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${ECSEMU_IMAGE_TAG:-ecsemu:latest}"
base="${ECSEMU_IMAGE_BASE:-python:3.11-slim}"
local_base="ecsemu-base:local"
rebuild_base=0
label="ecsemu.image=true"

say() { printf 'build-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now_ms() { date +%s%3N; }

while (($#)); do
    case "$1" in
        --tag) tag="${2:?--tag needs a name}"; shift 2 ;;
        --base) base="${2:?--base needs an image}"; shift 2 ;;
        --rebuild-base) rebuild_base=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

docker info >/dev/null 2>&1 || die "docker does not answer; run scripts/ensure-docker.sh"
# The classic builder reads local images as bases on every engine; BuildKit needs a plugin this
# machine may not have.
export DOCKER_BUILDKIT=0

work="$(mktemp -d /tmp/ecsemu-build-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# -- 1. the base -----------------------------------------------------------------------------

# Debian packages of the local base: the interpreter and the libraries its standard library's
# extension modules link (libpython3.11-stdlib's Depends, followed down), ensurepip and its
# wheels for `python3 -m venv`, and a shell.
base_packages=(
    python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11-venv
    python3-pip-whl python3-setuptools-whl
    libc6 libgcc-s1 libssl3 zlib1g libexpat1 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 libuuid1
    libcrypt1 libdb5.3 libncursesw6 libtinfo6 libreadline8 readline-common libnsl2 libtirpc3
    libtirpc-common libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2
    libkeyutils1 media-types tzdata netbase ca-certificates busybox-static
)

installed_here() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }

# Files nobody reads in a container.
skip_path() { [[ "$1" =~ ^/usr/share/(doc|man|info|lintian|locale|bug)/ ]]; }

copy_installed() { # package rootfs — the package's files as installed on this machine
    local path
    while IFS= read -r path; do
        [[ -L "$path" || -f "$path" ]] || continue
        skip_path "$path" && continue
        printf '%s\n' "${path#/}"
    done < <(dpkg -L "$1") >"$work/files"
    tar -C / -c --no-recursion -T "$work/files" | tar -C "$2" -x --keep-directory-symlink
}

download_debs() { # package... — into $work/debs, from the Debian mirror, in one apt call
    mkdir -p "$work/debs"
    if ! (cd "$work/debs" && apt-get download -qq "$@" >/dev/null 2>&1); then
        apt-get update -qq >/dev/null || die "apt-get update failed"
        (cd "$work/debs" && apt-get download -qq "$@" >/dev/null) || die "apt-get download $* failed"
    fi
}

extract_downloaded() { # package rootfs
    local -a debs=("$work/debs/${1}_"*.deb)
    local deb="${debs[0]}"
    [[ -f "$deb" ]] || die "no .deb of $1 was downloaded"
    dpkg-deb --fsys-tarfile "$deb" \
        | tar -C "$2" -x --keep-directory-symlink \
              --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*'
}

build_local_base() {
    local t0 rootfs pkg from_host=0 from_mirror=0 applet
    t0="$(now_ms)"
    if [[ ! -r /etc/debian_version ]] || ! command -v dpkg-deb >/dev/null; then
        die "the local base is assembled from Debian packages; this is not Debian"
    fi
    [[ "$(id -u)" == 0 ]] || die "assembling the local base needs root (file ownership in the image)"
    rootfs="$work/rootfs"
    mkdir -p "$rootfs"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,root,tmp,var/tmp,var/lib,dev,proc,sys,run}
    # The merged-/usr layout of Debian 12: packages still name /bin, /lib, /lib64 and /sbin.
    for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$rootfs/$dir"; done
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    chmod 0700 "$rootfs/root"
    local -a missing=()
    for pkg in "${base_packages[@]}"; do
        if [[ "${ECSEMU_BASE_FROM_MIRROR:-0}" != 1 ]] && installed_here "$pkg"; then
            copy_installed "$pkg" "$rootfs"; from_host=$((from_host + 1))
        else
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        download_debs "${missing[@]}"
        for pkg in "${missing[@]}"; do
            extract_downloaded "$pkg" "$rootfs"; from_mirror=$((from_mirror + 1))
        done
    fi
    # busybox's applets as symlinks where no package put a program (sh, ls, cat, mkdir, ...).
    while IFS= read -r applet; do
        [[ "$applet" == */* ]] || continue  # not linuxrc
        [[ -e "$rootfs/$applet" || -L "$rootfs/$applet" ]] || ln -s /bin/busybox "$rootfs/$applet"
    done < <(/bin/busybox --list-full 2>/dev/null || chroot "$rootfs" /bin/busybox --list-full)
    ln -sf python3.11 "$rootfs/usr/bin/python3"
    ln -sf python3.11 "$rootfs/usr/bin/python"
    # A container's Python is its own to install into, as in the python images.
    rm -f "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    ln -sf /usr/share/zoneinfo/Etc/UTC "$rootfs/etc/localtime"
    # ca-certificates' bundle is made by its maintainer script (update-ca-certificates): the
    # package's own certificates, none this machine added locally.
    mkdir -p "$rootfs/etc/ssl/certs"
    cat "$rootfs"/usr/share/ca-certificates/mozilla/*.crt >"$rootfs/etc/ssl/certs/ca-certificates.crt"
    tar -C "$rootfs" -c --numeric-owner . | docker import \
        --change 'LABEL ecsemu.image=true' \
        --change 'LABEL org.opencontainers.image.description="Python 3.11 from Debian packages, assembled by ecsemu scripts/build-image.sh"' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "$local_base" >/dev/null
    # Fail here, with the reason, rather than in the middle of the image build.
    docker run --rm --label "$label" --network none "$local_base" python3 -c \
        'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, hashlib, venv, ensurepip, json' \
        || die "the local base's Python is incomplete (see above)"
    # What was built on an earlier local base can never be a cache again: drop those images (ours
    # by label, untagged). Other untagged images of ours stay: they are the image build's cache.
    docker image prune -f --filter "label=$label" >/dev/null
    say "local base $local_base assembled from $from_host installed and $from_mirror downloaded Debian packages ($(docker image inspect -f '{{.Size}}' "$local_base" | awk '{printf "%.0f MB", $1/1e6}')) in $(($(now_ms) - t0)) ms"
}

ours() { [[ "$(docker image inspect -f '{{index .Config.Labels "ecsemu.image"}}' "$1" 2>/dev/null)" == true ]]; }

choose_base() {
    local t0
    t0="$(now_ms)"
    if docker image inspect "$base" >/dev/null 2>&1; then
        say "base $base (present)"
        return
    fi
    if [[ "$base" != "$local_base" ]] && timeout 30 docker pull -q "$base" >/dev/null 2>&1; then
        say "base $base (pulled in $(($(now_ms) - t0)) ms)"
        return
    fi
    [[ "$base" == "$local_base" ]] || say "base $base is not here and cannot be pulled; using $local_base"
    base="$local_base"
    if docker image inspect "$local_base" >/dev/null 2>&1 && ! ((rebuild_base)); then
        ours "$local_base" || die "$local_base exists but was not made by this script (no label $label); remove or rename it"
        say "base $local_base (present)"
        return
    fi
    if docker image inspect "$local_base" >/dev/null 2>&1; then
        ours "$local_base" || die "$local_base exists but was not made by this script (no label $label)"
    fi
    build_local_base
}

# -- 2. the wheels ---------------------------------------------------------------------------

host_python() {
    local candidate
    for candidate in "$repo_root/.venv/bin/python" python3; do
        if "$candidate" -m pip --version >/dev/null 2>&1 \
            && "$candidate" -c 'import sys, tomllib; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    die "no Python 3.11+ with pip on this machine to fetch the wheels"
}

fetch_wheels() {
    local t0 py wheelhouse target=()
    t0="$(now_ms)"
    py="$(host_python)"
    wheelhouse="$repo_root/build/wheelhouse"
    # The image's Python is 3.11 (both bases); fetch its wheels whatever the host runs.
    "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || target=(--python-version 3.11)
    mapfile -t requirements < <("$py" - "$repo_root/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as handle:
    document = tomllib.load(handle)
print(*document["project"]["dependencies"], sep="\n")
print(*document["build-system"]["requires"], sep="\n")
PY
)
    "$py" -m pip download --quiet --disable-pip-version-check --only-binary=:all: "${target[@]}" \
        --dest "$work/wheels" "${requirements[@]}" >"$work/pip.log" 2>&1 \
        || { cat "$work/pip.log" >&2; die "pip could not fetch the wheels"; }
    # Replaced whole, so that no older release lingers (pip's cache makes the download local;
    # the build cache ignores file times, so unchanged wheels keep the image layers cached).
    rm -rf "$wheelhouse"
    mkdir -p "$(dirname "$wheelhouse")"
    mv "$work/wheels" "$wheelhouse"
    say "wheels for ${#requirements[@]} requirements in build/wheelhouse ($(du -sh "$wheelhouse" | cut -f1)) in $(($(now_ms) - t0)) ms"
}

# -- 3. the image ----------------------------------------------------------------------------

build_image() {
    local t0 context
    t0="$(now_ms)"
    if ! docker build --force-rm --label "$label" -t "$tag" \
        --build-arg "BASE=$base" --build-arg "PIP_INSTALL_OPTIONS=--no-index" \
        -f "$repo_root/Dockerfile" "$repo_root" >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log" >&2
        die "docker build failed"
    fi
    context="$(sed -n 's/^Sending build context to Docker daemon *//p' "$work/build.log" | tail -n 1)"
    say "image $tag built FROM $base (build context ${context:-?}, image $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')) in $(($(now_ms) - t0)) ms"
}

t_start="$(now_ms)"
if docker image inspect "$tag" >/dev/null 2>&1 && ! ours "$tag"; then
    die "$tag exists but was not made by this script (no label $label); choose another --tag"
fi
choose_base
fetch_wheels
build_image
say "done in $(($(now_ms) - t_start)) ms: docker run -d --name ecsemu --network host -v /var/run/docker.sock:/var/run/docker.sock -v ecsemu-state:/var/lib/ecsemu $tag"
