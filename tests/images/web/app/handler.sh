#!/bin/sh
# One HTTP exchange per connection; stdin and stdout are the client socket (nc -e).
#
#   GET /                 200 JSON: taskArn, containerName, version, hostname, port
#   GET /health           200 "ok", or 500 "unhealthy" after /health/fail
#   GET /health/fail      make /health answer 500 (flag file $STATE/unhealthy)
#   GET /health/ok        make /health answer 200 again
#   GET /burn?seconds=N   burn one CPU for N seconds (0..600), then answer
#   GET /alloc?mb=N       PID 1 allocates N MiB more (1..4096) and holds it, then answer
#   GET /exit?code=N      answer, then the container's main process exits with N (0..255)
#
# Every response closes the connection. Access lines go to stderr (the container log).
set -f

STATE="${STATE:-/tmp/ecsemu-web}"
cr="$(printf '\r')"

respond() { # status reason content-type body
    if [ "$method" = HEAD ]; then
        printf 'HTTP/1.1 %s %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
            "$1" "$2" "$3" "${#4}"
    else
        printf 'HTTP/1.1 %s %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
            "$1" "$2" "$3" "${#4}" "$4"
    fi
    echo "ecsemu-web: $method $target $1" >&2
    exit 0
}

text() { respond "$1" "$2" text/plain "$3"; }

json_str() { # a JSON string, or null when empty
    if [ -z "$1" ]; then printf null; return; fi
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

qparam() { # value of query parameter $1
    local IFS='&' kv
    for kv in $query; do
        case "$kv" in "$1"=*) printf '%s' "${kv#*=}"; return 0 ;; esac
    done
    return 1
}

int_in() { # value lo hi: is value a decimal integer within [lo, hi]?
    case "$1" in '' | *[!0-9]*) return 1 ;; esac
    [ "${#1}" -le 6 ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

method="-"
target="-"
IFS= read -r -t 10 line || exit 0
line="${line%"$cr"}"
set -- $line
method="${1:-}"
target="${2:-/}"
while IFS= read -r -t 5 header; do
    [ -z "${header%"$cr"}" ] && break
done

path="${target%%\?*}"
query=""
case "$target" in *\?*) query="${target#*\?}" ;; esac

case "$method" in GET | HEAD) ;; *) text 405 "Method Not Allowed" "method not allowed" ;; esac

case "$path" in
/)
    body="{\"taskArn\":$(json_str "${ECS_TASK_ARN:-}"),\"containerName\":$(json_str "${ECS_CONTAINER_NAME:-}"),\"version\":$(json_str "${VERSION:-v1}"),\"hostname\":$(json_str "$(hostname)"),\"port\":${PORT:-8080}}"
    respond 200 OK application/json "$body"
    ;;
/health)
    if [ -e "$STATE/unhealthy" ]; then text 500 "Internal Server Error" "unhealthy"; fi
    text 200 OK "ok"
    ;;
/health/fail)
    : >"$STATE/unhealthy"
    text 200 OK "health now fails"
    ;;
/health/ok)
    rm -f "$STATE/unhealthy"
    text 200 OK "ok"
    ;;
/burn)
    seconds="$(qparam seconds)" || seconds=1
    int_in "$seconds" 0 600 || text 400 "Bad Request" "seconds must be an integer in 0..600"
    [ "$seconds" -gt 0 ] && timeout "$seconds" sh -c 'while :; do :; done'
    respond 200 OK application/json "{\"burnedSeconds\":$seconds}"
    ;;
/alloc)
    mb="$(qparam mb)" || text 400 "Bad Request" "mb is required"
    int_in "$mb" 1 4096 || text 400 "Bad Request" "mb must be an integer in 1..4096"
    echo "$mb" >"$STATE/alloc/req.$$"
    kill -USR1 1
    i=0
    while [ ! -e "$STATE/alloc/done.$$" ]; do
        i=$((i + 1))
        [ "$i" -gt 600 ] && text 504 "Gateway Timeout" "allocation did not finish"
        sleep 0.1
    done
    held="$(cat "$STATE/alloc/done.$$")"
    rm -f "$STATE/alloc/done.$$"
    respond 200 OK application/json "{\"allocatedMb\":$mb,\"heldMb\":$held}"
    ;;
/exit)
    code="$(qparam code)" || code=0
    int_in "$code" 0 255 || text 400 "Bad Request" "code must be an integer in 0..255"
    echo "$code" >"$STATE/exit-code"
    # Signal PID 1 after this response is written; detached from the socket.
    (sleep 0.2; kill -USR2 1) </dev/null >/dev/null 2>&1 &
    text 200 OK "exiting with $code"
    ;;
*)
    text 404 "Not Found" "not found"
    ;;
esac
