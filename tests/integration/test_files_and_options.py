"""State files are private, and bad option values are one-line usage errors.

- The data directory is 0700; the database, its ``-wal`` and ``-shm`` files and ``instance-id``
  are 0600, also when they were left looser by an older ecsemu (narrowed at start, logged).
- Every option, given on the command line or through its ``ECSEMU_*`` variable, is checked:
  a bad value ends the start with exit status 2 and one line naming the option, no traceback.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import REPO, client

from ecsemu.app import instance_namespace
from ecsemu.config import Config, build_parser, config_from_args


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_and_database_are_private(start_server: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "ecsemu"
    server = start_server("--runtime", "simulated", data_dir=data_dir)
    client("ecs", server.endpoint).create_cluster(clusterName="secret")
    database = data_dir / "state.sqlite3"
    assert mode(data_dir) == 0o700
    assert mode(database) == 0o600
    for suffix in ("-wal", "-shm"):
        sidecar = database.with_name(database.name + suffix)
        assert sidecar.exists() and mode(sidecar) == 0o600, suffix


def test_loose_state_files_are_narrowed_at_start(start_server: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "old"
    server = start_server("--runtime", "simulated", data_dir=data_dir)
    client("ecs", server.endpoint).create_cluster(clusterName="kept")
    server.kill(signal.SIGKILL)  # leaves the -wal and -shm files behind
    files = [data_dir / name for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm")]
    data_dir.chmod(0o755)
    for path in files:
        path.chmod(0o644)

    again = start_server("--runtime", "simulated", data_dir=data_dir)
    assert mode(data_dir) == 0o700
    assert [mode(path) for path in files if path.exists()] == [0o600] * len([p for p in files if p.exists()])
    assert len(client("ecs", again.endpoint).list_clusters()["clusterArns"]) == 1
    log = again.output()
    assert f"narrowed the permissions of {data_dir} from 0755 to 0700" in log
    assert f"narrowed the permissions of {files[0]} from 0644 to 0600" in log


def test_the_instance_id_file_is_private(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "d")
    first = instance_namespace(config)
    path = tmp_path / "d" / "instance-id"
    assert mode(path) == 0o600 and mode(tmp_path / "d") == 0o700
    path.chmod(0o644)
    assert instance_namespace(config) == first
    assert mode(path) == 0o600


def test_allowed_hosts_and_booleans_from_the_environment(start_server: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "never"
    server = start_server(
        "--runtime", "simulated", data_dir=data_dir, env={"ECSEMU_EPHEMERAL": "TRUE", "ECSEMU_ALLOWED_HOSTS": "ecsemu, compose.local"}
    )  # fmt: skip
    assert not data_dir.exists()  # ephemeral: nothing written
    for host, status in (("ecsemu:4566", 200), ("compose.local", 200), ("other.local", 403)):
        answer = requests.get(f"{server.endpoint}/_ecsemu/health", headers={"Host": host}, timeout=10)
        assert answer.status_code == status, host


def test_allowed_host_flags_win_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSEMU_ALLOWED_HOSTS", "from-env")
    parsed = config_from_args(build_parser().parse_args(["--allowed-host", "a", "--allowed-host", "b.local"]))
    assert parsed.allowed_hosts == ("a", "b.local")
    assert config_from_args(build_parser().parse_args([])).allowed_hosts == ("from-env",)
    monkeypatch.setenv("ECSEMU_KEEP_STOPPED_CONTAINERS", "Off")
    assert config_from_args(build_parser().parse_args(["serve"])).keep_stopped_containers is False


BAD_OPTIONS = [
    (["--port", "abc"], {}, "--port (ECSEMU_PORT)"),
    ([], {"ECSEMU_PORT": "abc"}, "--port (ECSEMU_PORT)"),
    (["--port", "-1"], {}, "--port (ECSEMU_PORT)"),
    (["--port", "70000"], {}, "--port (ECSEMU_PORT)"),
    (["--runtime", "dokcer"], {}, "--runtime (ECSEMU_RUNTIME)"),
    ([], {"ECSEMU_RUNTIME": "kubernetes"}, "--runtime (ECSEMU_RUNTIME)"),
    ([], {"ECSEMU_EPHEMERAL": "maybe"}, "--ephemeral (ECSEMU_EPHEMERAL)"),
    ([], {"ECSEMU_ALLOW_HOST_ACCESS": "2"}, "--allow-host-access (ECSEMU_ALLOW_HOST_ACCESS)"),
    ([], {"ECSEMU_KEEP_STOPPED_CONTAINERS": "yes please"}, "--keep-stopped-containers (ECSEMU_KEEP_STOPPED_CONTAINERS)"),
    (["--account-id", "123"], {}, "--account-id (ECSEMU_ACCOUNT_ID)"),
    ([], {"ECSEMU_REGION": "us east 1"}, "--region (ECSEMU_REGION)"),
    (["--log-level", "LOUD"], {}, "--log-level (ECSEMU_LOG_LEVEL)"),
    ([], {"ECSEMU_LOG_LEVEL": "verbose"}, "--log-level (ECSEMU_LOG_LEVEL)"),
    (["--stopped-task-retention", "-5"], {}, "--stopped-task-retention (ECSEMU_STOPPED_TASK_RETENTION)"),
    ([], {"ECSEMU_STOPPED_TASK_RETENTION": "nan"}, "--stopped-task-retention (ECSEMU_STOPPED_TASK_RETENTION)"),
    (["--listener-port-offset", "x"], {}, "--listener-port-offset (ECSEMU_LISTENER_PORT_OFFSET)"),
    (["--allowed-host", "bad/name"], {}, "--allowed-host (ECSEMU_ALLOWED_HOSTS)"),
    ([], {"ECSEMU_ALLOWED_HOSTS": "ok,not ok"}, "--allowed-host (ECSEMU_ALLOWED_HOSTS)"),
    (["--host", " "], {}, "--host (ECSEMU_HOST)"),
    (["--bogus"], {}, "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize(("args", "env", "named"), BAD_OPTIONS)
def test_a_bad_option_value_is_one_line_and_exit_status_2(args: list[str], env: dict[str, str], named: str, tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ECSEMU_")}
    ran = subprocess.run(
        [sys.executable, "-m", "ecsemu", "serve", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
        env={**clean, "PYTHONPATH": str(REPO), **env},
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], ran.stderr
    assert ran.stdout == ""
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("kind", ["file", "not-a-database"])
def test_an_unusable_data_directory_is_one_line_and_exit_status_2(tmp_path: Path, kind: str) -> None:
    if kind == "file":
        data_dir = tmp_path / "a-file"
        data_dir.write_text("")
    else:
        data_dir = tmp_path / "dir"
        data_dir.mkdir()
        (data_dir / "state.sqlite3").write_bytes(b"this is not SQLite" * 100)
    ran = subprocess.run(
        [sys.executable, "-m", "ecsemu", "serve", "--runtime", "simulated", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    errors = [line for line in ran.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "--data-dir (ECSEMU_DATA_DIR)" in errors[0], ran.stderr
