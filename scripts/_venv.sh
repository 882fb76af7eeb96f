# Sourced by the start and test scripts: make ./.venv hold ecsemu (editable) and its extras.
#
# Usage: ensure_venv [EXTRA]   e.g. ensure_venv test
# Installs python3-venv first when the machine lacks it (root on Debian). Re-installs only when
# pyproject.toml changed since the last install (a stamp file holds its hash). Nothing is
# compiled: every dependency has wheels for CPython 3.11 on x86_64 and aarch64.
ensure_venv() {
    local extra="${1:-}" repo venv stamp want
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$repo/.venv"
    stamp="$venv/.ecsemu-installed"
    want="$(sha256sum <"$repo/pyproject.toml" | cut -c1-16)-${extra:-base}"
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
        echo "ecsemu: installing into $venv${extra:+ (with the $extra extras)} ..." >&2
        "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
        # pip's own warnings stay in a log; it is shown when the install fails.
        if ! "$venv/bin/python" -m pip install -q -e "$repo${extra:+[$extra]}" >"$venv/.install.log" 2>&1; then
            cat "$venv/.install.log" >&2
            echo "ecsemu: the install failed (log above, also in $venv/.install.log)" >&2
            return 1
        fi
        echo "$want" >"$stamp"
    fi
    export PATH="$venv/bin:$PATH"
}
