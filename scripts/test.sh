#!/usr/bin/env bash
# Install what the tests need (./.venv, a Docker engine, the test images, Debian's Chromium for
# the dashboard's browser test), then run the linters, the package check (the wheel in a fresh
# venv with the newest boto3) and the whole test suite. Arguments go to pytest.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
ensure_venv test
bash scripts/ensure-docker.sh
bash scripts/build-test-images.sh
bash scripts/ensure-chromium.sh
echo "== ruff" && ruff check .
echo "== mypy" && mypy
echo "== import contract" && lint-imports --no-logo --no-cache
echo "== package" && bash scripts/check-package.sh
echo "== pytest" && python -m pytest "$@"
