"""Reading local environment files within bounds (``ecsemu.runtime.env_files``): regular
files only, never blocking on a FIFO, never reading a device or more than the bound, and one
reason for every failure."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ecsemu.runtime import env_files


def test_a_regular_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text("A=1\n")
    assert env_files.read_env_file_text(str(path)) == "A=1\n"


def _reason(path: str) -> str:
    with pytest.raises(env_files.EnvFileError) as caught:
        env_files.read_env_file_text(path)
    return str(caught.value).replace(path, "<path>")


def test_a_fifo_fails_at_once_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.env"
    os.mkfifo(fifo)
    outcome: list[str] = []
    reader = threading.Thread(target=lambda: outcome.append(_reason(str(fifo))), daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert outcome and "regular file" in outcome[0]


def test_devices_directories_missing_unreadable_and_oversized_files_read_alike(tmp_path: Path) -> None:
    big = tmp_path / "big.env"
    with big.open("wb") as file:
        file.truncate(env_files.MAX_FILE_BYTES + 1)
    secret = tmp_path / "secret.env"
    secret.write_text("S=1\n")
    secret.chmod(0)
    paths = ["/dev/zero", "/dev/null", str(tmp_path), str(tmp_path / "missing.env"), str(big), "/proc/self/mem"]
    if os.geteuid() != 0:  # root reads a 0000 file all the same
        paths.append(str(secret))
    reasons = {_reason(path) for path in paths}
    assert len(reasons) == 1, reasons
    reason = reasons.pop()
    assert reason.startswith("ResourceInitializationError: failed to read env file <path>")
    assert not any(word in reason.lower() for word in ("exist", "no such", "permission", "directory", "fifo"))


def test_a_file_of_exactly_the_bound_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.env"
    path.write_bytes(b"#" * env_files.MAX_FILE_BYTES)
    assert len(env_files.read_env_file_text(str(path))) == env_files.MAX_FILE_BYTES
