"""Reading a container's local environment files (an ecsemu extension), within bounds.

Only with ``--allow-host-access`` (the API and ``docker_spec.refusal`` refuse local paths
otherwise). Even then a task definition must not be able to stall or exhaust the emulator, or
learn about the host from its stoppedReason:

- at most ``MAX_FILES`` files per container (ECS: "You can specify up to ten environment
  files", API reference, ``EnvironmentFile``);
- only regular files: the path is opened with ``O_NONBLOCK`` (a FIFO must not block the
  launch) and ``fstat`` must say ``S_ISREG`` before a byte is read (``/dev/zero`` is not one);
- at most ``MAX_FILE_BYTES`` per file (ECS enforces no size limit, "but a large environment
  variables file might fill up the disk space": ecsemu's bound), read in one bounded read;
- every failure gives one and the same reason, naming only the path the task definition gave:
  whether it is missing, unreadable, a directory, a FIFO or too large is not told.
"""

from __future__ import annotations

import os
import stat
from typing import Final

MAX_FILES: Final = 10
MAX_FILE_BYTES: Final = 1024 * 1024


class EnvFileError(Exception):
    """An environment file that cannot be used; ``str()`` is safe to show the task's owner."""


def failure(path: str) -> EnvFileError:
    return EnvFileError(
        f"ResourceInitializationError: failed to read env file {path}: "
        f"not a readable regular file of at most {MAX_FILE_BYTES} bytes"
    )


def read_env_file_text(path: str) -> str:
    """The text of the regular file at ``path``, or :class:`EnvFileError`."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except (OSError, ValueError):
        raise failure(path) from None
    try:
        facts = os.fstat(descriptor)
        if not stat.S_ISREG(facts.st_mode) or facts.st_size > MAX_FILE_BYTES:
            raise failure(path)
        data = os.read(descriptor, MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # grew since fstat
            raise failure(path)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise failure(path) from None
    finally:
        os.close(descriptor)
