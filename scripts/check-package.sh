#!/usr/bin/env bash
# The package as a user gets it: build the wheel from this checkout, install it into a fresh
# virtual environment beside the NEWEST boto3 (the test suite itself runs the oldest supported,
# the release api_shapes/ was generated from), then:
#   - `ecsemu --version` answers;
#   - `ecsemu serve` starts from the installed wheel (shapes included) and answers boto3;
#   - a user's ten-line pytest test passes with the plugin's `ecsemu` fixture.
# Usage: bash scripts/check-package.sh   (scripts/test.sh runs it; ~30 s, most of it pip)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/ecsemu-package.XXXXXX)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'check-package: %s\n' "$*"; }
die() { printf 'check-package: FAILED: %s\n' "$*" >&2; exit 1; }

python="${PYTHON:-python3}"
[[ -x "$repo/.venv/bin/python" ]] && python="$repo/.venv/bin/python"

"$python" -m pip wheel -q --no-deps -w "$work/dist" "$repo" >"$work/wheel.log" 2>&1 || { cat "$work/wheel.log"; die "building the wheel"; }
wheel="$(ls "$work"/dist/ecsemu-*.whl)"
listing="$("$python" -m zipfile -l "$wheel")"
[[ "$listing" == *"ecsemu/_shapes/ecs.json"* && "$listing" == *"ecsemu/_shapes/elbv2.json"* ]] || die "the wheel has no API shapes"
[[ "$listing" == *"ecsemu/dashboard/static/index.html"* ]] || die "the wheel has no dashboard page"
say "built $(basename "$wheel")"

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$work/venv/bin/python" -m pip install -q "$wheel" boto3 pytest >"$work/install.log" 2>&1 || { cat "$work/install.log"; die "installing the wheel"; }
boto3_version="$("$work/venv/bin/python" -c 'import boto3; print(boto3.__version__)')"
say "installed into a fresh venv with boto3 $boto3_version (the newest pip finds)"

version="$("$work/venv/bin/ecsemu" --version)"
[[ "$version" == "ecsemu "* ]] || die "ecsemu --version said: $version"

port="$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$work" && exec "$work/venv/bin/ecsemu" serve --port "$port" --ephemeral --runtime simulated --quiet) >"$work/server.log" 2>&1 &
server_pid=$!
cat >"$work/call.py" <<EOF
import sys, time, boto3
ecs = boto3.client("ecs", endpoint_url="http://127.0.0.1:$port", region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
deadline = time.monotonic() + 30
while True:
    try:
        ecs.list_clusters()
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)  # the server is starting; ask again
ecs.create_cluster(clusterName="packaged")
ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 64}])
try:
    ecs.register_task_definition(family="web", containerDefinitions=[])
except ecs.exceptions.ClientException as error:
    assert "Container list cannot be empty." in str(error), error
else:
    sys.exit("an empty container list was accepted: the shapes are not validated")
EOF
(cd "$work" && "$work/venv/bin/python" call.py) || { cat "$work/server.log"; die "the installed server did not answer boto3 as expected"; }
kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=""
say "the installed server answers boto3 $boto3_version (and validates with the packaged shapes)"

mkdir -p "$work/user"
cat >"$work/user/test_user.py" <<'EOF'
import boto3


def test_cluster(ecsemu):
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="demo")
    assert ecs.list_clusters()["clusterArns"] == ["arn:aws:ecs:us-east-1:123456789012:cluster/demo"]


def test_reset_between_tests(ecsemu_client):
    assert ecsemu_client("ecs").list_clusters()["clusterArns"] == []
EOF
(cd "$work/user" && env -u AWS_ENDPOINT_URL -u AWS_PROFILE "$work/venv/bin/python" -m pytest -q -p no:cacheprovider --durations=0 test_user.py) \
    >"$work/user.log" 2>&1 || { cat "$work/user.log"; die "a user's test with the plugin failed"; }
say "a user's pytest suite passes with the plugin: $(grep -E 'passed' "$work/user.log" | tail -1)"
