# Sourced by the start and test scripts: make ./.venv hold ecsemu (editable) and its extras.
#
# Usage: ensure_venv [EXTRA]   e.g. ensure_venv test
# Installs python3-venv first when the machine lacks it, and gcc and the Python headers for the
# load balancer's compiled fast path (root on Debian). Re-installs only when pyproject.toml,
# setup.py or the C source changed since the last install (a stamp file holds their hash).
ensure_venv() {
    local extra="${1:-}" repo venv stamp want
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$repo/.venv"
    stamp="$venv/.ecsemu-installed"
    want="$(cat "$repo/pyproject.toml" "$repo/setup.py" "$repo"/ecsemu/lb/*.c | sha256sum | cut -c1-16)-${extra:-base}"
    if [[ ! -x "$venv/bin/python" ]]; then
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            if [[ "$(id -u)" == 0 && -r /etc/debian_version ]]; then
                apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
                rm -rf "$venv"
                python3 -m venv "$venv"
            else
                echo "ecsemu: python3 -m venv failed; install python3-venv" >&2
                return 1
            fi
        fi
    fi
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        ensure_compiler "$venv/bin/python"
        echo "ecsemu: installing into $venv ..." >&2
        "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
        "$venv/bin/python" -m pip install -q -e "$repo${extra:+[$extra]}"
        echo "$want" >"$stamp"
    fi
    export PATH="$venv/bin:$PATH"
}

# The fast path (ecsemu/lb/_fastproxy.c) needs a C compiler and Python.h; without them pip
# skips it and the pure-Python listener serves alone (slower, same behaviour).
ensure_compiler() {
    local python="$1"
    if command -v gcc >/dev/null && "$python" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
        return 0
    fi
    if [[ "$(id -u)" == 0 && -r /etc/debian_version ]]; then
        echo "ecsemu: installing gcc and the Python headers (python3-dev) ..." >&2
        apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=300 install -y -qq gcc python3-dev >/dev/null
    else
        echo "ecsemu: no gcc or Python.h: the load balancer's fast path will not be built" >&2
    fi
}
