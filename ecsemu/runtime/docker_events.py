"""Following the engine's container events, for the docker runtime.

``EngineEvents`` keeps one stream of Docker's events about this emulator's containers open in a
thread of its own and hands each event to ``on_event``. When the stream drops (the engine
restarted, the socket closed) it reconnects with a growing backoff (0.2 s to 5 s), asks for the
events it missed (``since`` the last one seen), and calls ``on_reconnect`` once connected again:
something may have changed while it was down.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger(__name__)

EVENTS: Final = ["create", "start", "die", "oom", "destroy", "health_status"]
Record = dict[str, Any]


class EngineEvents:
    def __init__(
        self, api: Any, label_filter: list[str], on_event: Callable[[Record], None], on_reconnect: Callable[[], None]
    ) -> None:
        self._api = api
        self._filters = {"type": "container", "label": label_filter, "event": EVENTS}
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: Any = None

    def start(self) -> None:
        """Start following (once; not after ``close``)."""
        with self._lock:
            if self._thread is not None or self._closed.is_set():
                return
            self._thread = threading.Thread(target=self._follow, name="ecsemu-docker-events", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def _follow(self) -> None:
        backoff, since, connected_before = 0.2, None, False
        while not self._closed.is_set():
            try:
                stream = self._api.events(decode=True, filters=self._filters, since=since)
                with self._lock:
                    self._stream = stream
                if self._closed.is_set():
                    stream.close()
                    return
                if connected_before:
                    self._on_reconnect()
                connected_before = True
                for event in stream:
                    since, backoff = int(event.get("time") or time.time()), 0.2
                    self._on_event(event)
            except Exception:
                log.debug("docker event stream dropped", exc_info=True)
            if self._closed.wait(backoff):
                return
            backoff = min(backoff * 2, 5.0)
