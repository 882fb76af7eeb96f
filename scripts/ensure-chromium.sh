#!/usr/bin/env bash
# Make Debian's Chromium and its WebDriver present, for the dashboard's browser tests
# (tests/integration/test_dashboard.py drives /usr/bin/chromium through /usr/bin/chromedriver;
# nothing is ever downloaded by Selenium).
#
# - If both are installed: exit 0 at once, saying nothing.
# - Otherwise, as root on Debian: install `chromium` and `chromium-driver` quietly (no prompts,
#   no recommended packages), then check they run.
#
# Idempotent; a lock serialises concurrent runs.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
lock_file="/tmp/ecsemu-ensure-chromium.lock"

say() { printf 'ensure-chromium: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

present() { [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; }

present && exit 0

[[ "$(id -u)" == 0 && -r /etc/debian_version ]] \
    || die "need root on Debian to install chromium and chromium-driver (or install them yourself)"

exec 9>"$lock_file"
flock 9
present && exit 0  # another run installed them while this one waited

say "installing Debian's chromium and chromium-driver (for the dashboard's browser tests)…"
apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends chromium chromium-driver >/dev/null
present || die "chromium or chromedriver is still missing after the install"
"$CHROMEDRIVER" --version >/dev/null || die "$CHROMEDRIVER does not run"
say "ready: $("$CHROMIUM" --version 2>/dev/null | head -1)"
