"""How the server talks: its log lines, as text or as JSON, on stderr.

What is logged at INFO (``--quiet`` keeps only warnings and errors):
- ``ecsemu.api``: one line per AWS call — service, operation, status, milliseconds, error code;
- ``ecsemu.reconcile``: one line per task state change and per service event (deployment steps,
  tasks started and stopped, steady state, failures), in ECS's own words;
- ``ecsemu.lb``: each listener's address;
- the start and the stop (what was left running, and how to adopt or remove it).

With ``--log-format json`` every line is one JSON object: ``time`` (ISO 8601, UTC), ``level``,
``logger``, ``message``, and the record's ``fields`` (for API calls: ``service``,
``operation``, ``status``, ``ms``, ``error``), plus ``exception`` when there is one.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Final

from ecsemu.config import LogFormat

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS: Final = ("werkzeug", "waitress")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({key: value for key, value in fields.items() if key not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, log_format: LogFormat = "text", *, quiet: bool = False) -> None:
    """Send the emulator's log to stderr at ``level`` (WARNING at least when ``quiet``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    wanted = logging.getLevelNamesMapping()[level]
    root.setLevel(max(wanted, logging.WARNING) if quiet else wanted)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
