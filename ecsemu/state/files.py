"""Private files: the data directory and what ecsemu keeps in it are the user's alone.

The store holds task definitions' environment values and secrets' references, so nothing of
it may be readable by other users of the machine.

Invariants:
- The data directory is 0700 and every file ecsemu keeps in it (the database, its ``-wal`` and
  ``-shm`` files, ``instance-id``) is 0600, whatever the umask. Files are created with that
  mode (never created looser and narrowed later), and a directory or file found looser at
  start (from an older ecsemu, a copy, a restore) is narrowed then, with one log line saying
  what was narrowed from what.
- Only permission bits that give access to the group or others are removed; nothing is ever
  widened, and the owner's own bits are left alone (a 0500 directory stays 0500).
- A path that cannot be made or used (a file where the directory should be, no permission)
  raises ``DataDirectoryError`` with a one-line reason; the command line turns it into a
  usage error naming ``--data-dir``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


class DataDirectoryError(OSError):
    """The data directory, or a file in it, cannot be made private or used."""


def _narrow(path: Path) -> None:
    """Remove the group's and others' permission bits of ``path``; log it when there were any."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _OTHERS:
        narrowed = mode & ~_OTHERS
        path.chmod(narrowed)
        log.warning("narrowed the permissions of %s from %04o to %04o (ecsemu's state is private)", path, mode, narrowed)


def private_directory(path: Path) -> Path:
    """Make ``path`` (and its missing parents) a directory only its owner can enter; narrow it
    when it already exists with looser permissions."""

    def make() -> None:
        path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        if not path.is_dir():
            raise DataDirectoryError(f"{path} is not a directory")

    return _private(path, make)


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; narrow it when it is looser."""

    def make() -> None:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, FILE_MODE))
        if not path.is_file():
            raise DataDirectoryError(f"{path} is not a regular file")

    return _private(path, make)


def _private(path: Path, make: Callable[[], None]) -> Path:
    """``make`` the path, then narrow its mode; an OS error becomes a ``DataDirectoryError``."""
    try:
        make()
        _narrow(path)
    except DataDirectoryError:
        raise
    except OSError as error:
        raise DataDirectoryError(f"{path}: {error.strerror or error}") from error
    return path


def narrow_if_present(path: Path) -> None:
    """Narrow ``path`` when it exists (SQLite's ``-wal`` and ``-shm`` files: SQLite creates
    them with the database file's mode, so only older, looser ones need it)."""
    try:
        if path.exists():
            _narrow(path)
    except OSError as error:
        raise DataDirectoryError(f"{path}: {error.strerror or error}") from error


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (created 0600, or narrowed), whole."""
    private_file(path)
    try:
        path.write_text(text)
    except OSError as error:
        raise DataDirectoryError(f"{path}: {error.strerror or error}") from error
