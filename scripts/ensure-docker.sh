#!/usr/bin/env bash
# Make a Docker engine answer on this machine, for ecsemu's `docker` test suites.
#
# - If `docker info` already works: only make sure busybox-static is present (the test images
#   copy its binary), then exit 0.
# - Otherwise, as root on Debian: install Debian's docker.io (and busybox-static) if `dockerd`
#   is missing, start dockerd directly in the background (no systemd needed), and wait until
#   `docker info` answers or the deadline passes.
#
# Idempotent: a lock serialises concurrent runs, and a live dockerd recorded in the pidfile is
# waited for, never started twice.
#
# Environment:
#   ECSEMU_DOCKERD_LOG       dockerd's log file       (default /var/log/ecsemu-dockerd.log)
#   ECSEMU_DOCKERD_PIDFILE   dockerd's pidfile        (default /var/run/docker.pid)
#   ECSEMU_DOCKERD_TIMEOUT   seconds to wait for it   (default 60)
#   ECSEMU_DOCKERD_FLAGS     extra flags for dockerd  (default none)
set -euo pipefail

log_file="${ECSEMU_DOCKERD_LOG:-/var/log/ecsemu-dockerd.log}"
pid_file="${ECSEMU_DOCKERD_PIDFILE:-/var/run/docker.pid}"
timeout_s="${ECSEMU_DOCKERD_TIMEOUT:-60}"
lock_file="/tmp/ecsemu-ensure-docker.lock"

say() { printf 'ensure-docker: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

docker_answers() { docker info >/dev/null 2>&1; }

is_root_on_debian() { [[ "$(id -u)" == 0 && -r /etc/debian_version ]]; }

apt_updated=0
apt_install() {
    # Installs the given Debian packages without prompts, recommends, or service starts.
    is_root_on_debian || die "need root on Debian to install: $*"
    if [[ "$apt_updated" == 0 ]]; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

have_busybox_static() {
    [[ -x /bin/busybox ]] && dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'
}

ensure_busybox_static() {
    have_busybox_static && return 0
    if ! is_root_on_debian; then
        say "warning: busybox-static is missing and cannot be installed here; the test images need it"
        return 0
    fi
    say "installing busybox-static"
    apt_install busybox-static
}

live_dockerd_pid() {
    # Prints the PID in the pidfile if that process is alive and is dockerd.
    local pid
    [[ -r "$pid_file" ]] || return 1
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == dockerd ]] || return 1
    printf '%s\n' "$pid"
}

wait_for_docker() {
    local deadline=$((SECONDS + timeout_s))
    until docker_answers; do
        if (( SECONDS >= deadline )); then
            say "dockerd did not answer within ${timeout_s}s; last log lines ($log_file):"
            tail -n 20 "$log_file" >&2 || true
            return 1
        fi
        if [[ -n "${1:-}" && ! -d "/proc/$1" ]]; then
            say "dockerd (pid $1) exited; last log lines ($log_file):"
            tail -n 20 "$log_file" >&2 || true
            return 1
        fi
        sleep 0.5
    done
}

start_dockerd() {
    # Flags, and why:
    #   --host unix:///var/run/docker.sock  the default socket, stated so no TCP socket opens.
    #   --pidfile                           how a second run finds this dockerd.
    #   --storage-driver overlay2           the root filesystem is ext4 and the kernel has
    #                                       overlayfs; stated so a fallback to vfs (slow,
    #                                       disk-hungry) fails loudly instead.
    #   --ip 127.0.0.1                      default bind address for published ports, so a
    #                                       `-p 8080` without an address stays on loopback.
    # iptables and the userland proxy stay at their defaults: the kernel has netfilter (nft)
    # and Debian's iptables-nft works, and published 127.0.0.1 ports are served by
    # docker-proxy.
    local -a flags=(
        --host unix:///var/run/docker.sock
        --pidfile "$pid_file"
        --storage-driver overlay2
        --ip 127.0.0.1
    )
    # shellcheck disable=SC2206  # extra flags are split on purpose
    [[ -n "${ECSEMU_DOCKERD_FLAGS:-}" ]] && flags+=(${ECSEMU_DOCKERD_FLAGS})
    mkdir -p "$(dirname "$log_file")"
    printf '\n=== %s ensure-docker: dockerd %s\n' "$(date -Is)" "${flags[*]}" >>"$log_file"
    # setsid: own session, so the caller's process group or terminal ending does not stop it.
    # 9>&-: dockerd must not inherit (and so hold forever) the lock of this script.
    setsid dockerd "${flags[@]}" </dev/null >>"$log_file" 2>&1 9>&- &
    printf '%s\n' "$!"
}

main() {
    if docker_answers; then
        ensure_busybox_static
        echo "ensure-docker: docker is answering"
        exit 0
    fi

    is_root_on_debian || die "docker does not answer and this is not root on Debian; start a Docker engine yourself"

    exec 9>"$lock_file"
    flock -w "$((timeout_s + 330))" 9 || die "another ensure-docker run holds $lock_file"

    # Another run may have brought it up while this one waited for the lock.
    if docker_answers; then
        ensure_busybox_static
        echo "ensure-docker: docker is answering"
        exit 0
    fi

    local -a missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    have_busybox_static || missing+=(busybox-static)
    if (( ${#missing[@]} )); then
        say "installing ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    command -v docker >/dev/null 2>&1 || die "no docker client after installing docker.io"

    # A package install on a systemd host may have started the engine itself.
    if docker_answers; then
        echo "ensure-docker: docker is answering (started by the package)"
        exit 0
    fi

    local pid started=0
    if pid="$(live_dockerd_pid)"; then
        say "dockerd (pid $pid) is running but not answering yet; waiting"
    else
        # A pidfile naming a dead (or reused) PID makes dockerd refuse to start.
        rm -f "$pid_file"
        pid="$(start_dockerd)"
        started=1
    fi
    local t0
    t0="$(date +%s%3N)"
    wait_for_docker "$pid" || die "docker did not come up"
    if (( started )); then
        echo "ensure-docker: dockerd started (pid $pid, log $log_file), answering after $(($(date +%s%3N) - t0)) ms"
    else
        echo "ensure-docker: dockerd (pid $pid) is answering"
    fi
}

main "$@"
