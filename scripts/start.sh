#!/usr/bin/env bash
# Install ecsemu into ./.venv and start it. Arguments go to `ecsemu serve` (see --help).
# A Docker engine is made available when possible (root on Debian); without one, ecsemu
# runs tasks on its simulated runtime and says so. Progress is one short line a step; the
# installers' own output is kept out of the way (errors still show).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
say() { printf 'start: %s\n' "$*" >&2; }
# shellcheck source=scripts/_venv.sh
source "$repo/scripts/_venv.sh"
say "Python environment: $repo/.venv (ecsemu and its dependencies; installed only when pyproject.toml changed)"
ensure_venv
if bash "$repo/scripts/ensure-docker.sh"; then
    say "Docker engine: answering (tasks run as real containers)"
else
    say "Docker engine: none (tasks will be simulated)"
fi
say "starting ecsemu (Ctrl-C stops it; it prints where it listens)"
exec "$repo/.venv/bin/python" -m ecsemu serve "$@"
