#!/usr/bin/env bash
# Install ecsemu into ./.venv and start it. Arguments go to `ecsemu serve` (see --help).
# A Docker engine is made available when possible (root on Debian); without one, ecsemu
# runs tasks on its simulated runtime and says so.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/_venv.sh
source "$repo/scripts/_venv.sh"
ensure_venv
bash "$repo/scripts/ensure-docker.sh" || echo "ecsemu: no Docker engine; tasks will be simulated" >&2
exec "$repo/.venv/bin/python" -m ecsemu serve "$@"
