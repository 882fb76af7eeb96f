"""Long polling: receivers wait until a sender tells them a message may be there.

A receiver reads the *generation*, looks for messages (in a store transaction), and if it found
none waits, outside every lock of the store, until the generation moves or its time is up. A
sender bumps the generation after its write committed, so a receiver never misses a message
sent between its look and its wait. One generation serves every queue: a receiver woken by
another queue's message looks again and waits on (at most ``MAX_WAITERS`` receivers, so a
look each per send at worst). Waiting is a ``threading.Condition`` wait (no busy loop); the
receiver also wakes when a delayed or in-flight message becomes visible (it passes that
moment as its deadline).

Bound: at most ``MAX_WAITERS`` receivers wait at once (each holds one of the gateway's worker
threads); a receive beyond that answers at once, as a short poll does.
"""

from __future__ import annotations

import threading
import time
from typing import Final, Literal

MAX_WAITERS: Final = 4


class QueueWaiters:
    def __init__(self, max_waiters: int = MAX_WAITERS) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._waiting = 0
        self.max_waiters = max_waiters

    @property
    def generation(self) -> int:
        with self._condition:
            return self._generation

    def notify(self) -> None:
        """A message may have become visible: wake the receivers, who look again."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, until: float) -> Literal["moved", "timeout", "refused"]:
        """Wait until the generation passes ``seen`` (``moved``) or the monotonic time ``until``
        (``timeout``); ``refused`` at once when ``max_waiters`` receivers already wait."""
        with self._condition:
            if self._waiting >= self.max_waiters:
                return "refused"
            self._waiting += 1
            try:
                while self._generation == seen:
                    remaining = until - time.monotonic()
                    if remaining <= 0:
                        return "timeout"
                    self._condition.wait(remaining)
                return "moved"
            finally:
                self._waiting -= 1

    @property
    def waiting(self) -> int:
        with self._condition:
            return self._waiting
