"""Unit tests of ecsemu.taskenv.tokens: stable per key, distinct per task and container, and the
key durable in the data directory (0600) or ephemeral."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from ecsemu.taskenv import tokens

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
TASK_A = "arn:aws:ecs:us-east-1:123456789012:task/default/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
TASK_B = "arn:aws:ecs:us-east-1:123456789012:task/default/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def test_container_tokens_are_stable_and_shaped_as_ecs_does() -> None:
    token = tokens.container_token(KEY, TASK_A, "main")
    assert token == tokens.container_token(KEY, TASK_A, "main")
    assert re.fullmatch(r"[0-9a-f]{32}-\d{10}", token)


def test_container_tokens_differ_per_task_container_and_key() -> None:
    seen = {
        tokens.container_token(KEY, TASK_A, "main"),
        tokens.container_token(KEY, TASK_A, "sidecar"),
        tokens.container_token(KEY, TASK_B, "main"),
        tokens.container_token(OTHER_KEY, TASK_A, "main"),
    }
    assert len(seen) == 4


def test_credentials_tokens_are_uuid_shaped_stable_and_distinct() -> None:
    token = tokens.credentials_token(KEY, TASK_A)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", token)
    assert token == tokens.credentials_token(KEY, TASK_A)
    assert token != tokens.credentials_token(KEY, TASK_B)
    assert token != tokens.credentials_token(OTHER_KEY, TASK_A)
    # A credentials token never names a container, and the reverse.
    assert token not in {tokens.container_token(KEY, TASK_A, name) for name in ("main", "")}


def test_secret_material_has_the_length_and_alphabet_asked_and_is_stable() -> None:
    long = tokens.secret_material(KEY, TASK_A, "token", 356)
    assert len(long) == 356 and re.fullmatch(r"[A-Za-z0-9]+", long)
    assert long == tokens.secret_material(KEY, TASK_A, "token", 356)
    assert tokens.secret_material(KEY, TASK_A, "secret", 40) != tokens.secret_material(KEY, TASK_B, "secret", 40)
    assert tokens.secret_material(KEY, TASK_A, "secret", 40) != tokens.secret_material(KEY, TASK_A, "token", 40)


def test_an_ephemeral_key_is_fresh_each_time() -> None:
    first, second = tokens.load_key(None), tokens.load_key(None)
    assert len(first) == 32 and first != second


def test_a_durable_key_is_kept_private_and_the_same_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    key = tokens.load_key(data_dir)
    path = data_dir / tokens.KEY_FILE
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert tokens.load_key(data_dir) == key
    assert tokens.container_token(tokens.load_key(data_dir), TASK_A, "main") == tokens.container_token(
        key, TASK_A, "main"
    )


def test_a_loose_key_file_is_narrowed(tmp_path: Path) -> None:
    key = tokens.load_key(tmp_path)
    path = tmp_path / tokens.KEY_FILE
    path.chmod(0o644)
    assert tokens.load_key(tmp_path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
