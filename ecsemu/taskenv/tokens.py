"""Tokens that name a task or a container in the URIs a task is given.

``container_token`` and ``credentials_token`` are HMACs of the task ARN (and container name)
under the emulator's key, so they are unguessable without the key and the same after a
restart (the containers of an adopted task keep the URIs they were started with). The key
lives in the data directory (``task-endpoint-key``, 0600) or, for an ephemeral emulator, in
memory only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from ecsemu.state.files import private_directory, private_file, write_private_text

KEY_FILE = "task-endpoint-key"


def load_key(data_dir: Path | None) -> bytes:
    """The durable key of ``data_dir`` (made on first use); a fresh one when None."""
    if data_dir is None:
        return secrets.token_bytes(32)
    path = private_directory(data_dir) / KEY_FILE
    if not path.exists():
        write_private_text(path, secrets.token_hex(32) + "\n")
    else:
        private_file(path)
    return bytes.fromhex(path.read_text().strip())


def _digest(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def container_token(key: bytes, task_arn: str, container_name: str) -> str:
    """The metadata URI's last part for one container: ``<32 hex>-<10 digits>`` (ECS's look)."""
    digest = _digest(key, "container", task_arn, container_name)
    return f"{digest[:32]}-{int(digest[32:40], 16) % 10**10:010d}"


def credentials_token(key: bytes, task_arn: str) -> str:
    """The credentials URI's last part for a task: a UUID-shaped string."""
    d = _digest(key, "credentials", task_arn)
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


def secret_material(key: bytes, task_arn: str, what: str, length: int) -> str:
    """Stable, unguessable characters for a task's credentials (secret key, session token)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    out: list[str] = []
    counter = 0
    while len(out) < length:
        for byte in hmac.new(key, f"{what}\0{task_arn}\0{counter}".encode(), hashlib.sha256).digest():
            out.append(alphabet[byte % len(alphabet)])
        counter += 1
    return "".join(out[:length])
