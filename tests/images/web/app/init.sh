#!/bin/sh
# PID 1 of the ecsemu test web image.
#
# Starts the HTTP server (busybox `nc -ll`, which forks /app/handler.sh per connection) and
# stays alive in `wait`, where signals with traps are taken at once. PID 1 of a PID namespace
# gets no default signal actions, so every signal the image honours is trapped here:
#   TERM, INT  graceful stop: stop the server, exit 0 (so `docker stop` returns at once)
#   USR1       allocate the memory that /alloc requested, in this process, and hold it
#              (under a small memory limit the kernel OOM-kills PID 1: exit 137, OOMKilled)
#   USR2       exit with the code that /exit requested
#
# The handler and this script talk through files under $STATE (see handler.sh).
# Environment: PORT (default 8080), VERSION (default v1).
set -u

PORT="${PORT:-8080}"
VERSION="${VERSION:-v1}"
STATE=/tmp/ecsemu-web
export PORT VERSION STATE

rm -rf "$STATE"
mkdir -p "$STATE/alloc"

srv=""
held=""
held_mb=0

on_term() {
    echo "ecsemu-web: SIGTERM, stopping" >&2
    [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null
    exit 0
}

on_exit_request() {
    code="$(cat "$STATE/exit-code" 2>/dev/null || echo 0)"
    echo "ecsemu-web: exiting with code $code on request" >&2
    [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null
    exit "$code"
}

on_alloc() {
    for req in "$STATE"/alloc/req.*; do
        [ -e "$req" ] || continue
        mb="$(cat "$req")"
        rm -f "$req"
        # Command substitution keeps the bytes in this shell's heap; tr makes them non-zero.
        held="$held$(head -c $((mb * 1048576)) /dev/zero | tr '\0' x)"
        held_mb=$((held_mb + mb))
        echo "$held_mb" >"$STATE/alloc/done.${req##*/req.}"
        echo "ecsemu-web: holding ${held_mb} MiB" >&2
    done
}

trap on_term TERM INT
trap on_exit_request USR2
trap on_alloc USR1

nc -ll -p "$PORT" -e /app/handler.sh &
srv=$!
echo "ecsemu-web: version $VERSION listening on :$PORT (server pid $srv)" >&2

while :; do
    wait "$srv"
    rc=$?
    # wait also returns when a trapped signal arrives; only a gone server ends the loop.
    if ! kill -0 "$srv" 2>/dev/null; then
        echo "ecsemu-web: server exited with $rc" >&2
        exit "$rc"
    fi
done
