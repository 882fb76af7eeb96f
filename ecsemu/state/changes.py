"""What changed in the store, and since when: the feed incremental readers (the reconciler) use.

Vocabulary:
- **seq**: the store's one counter. Every write takes the next value. A record's **birth** is
  the seq of the write that created it (in its current life: a deleted id written again is
  born anew), and a kind's order (insertion order) is its records' births, ascending.
- **revision**: the seq of the latest write the store has made; a reader that has seen
  everything up to revision R asks for ``Store.read_changes(R, kinds)`` next.
- **tombstone**: a deleted key the log still remembers, so that readers hear of deletions.
- **horizon**: the log remembers every key changed after it. A reader whose revision is older
  than the horizon (tombstones were pruned, or the store was reset) gets a *complete* change
  set: every record of the kinds it asked for, and it forgets what it held.

Invariants:
- The log holds one entry per key, oldest change first; finding the keys changed after R
  costs O(keys changed after R), whatever the number of records.
- Tombstones are bounded: after ``TOMBSTONE_LIMIT`` deletions the log drops every tombstone
  and moves the horizon past them (one complete read for readers that were behind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from ecsemu.context import Scope

TOMBSTONE_LIMIT = 10_000


class Change(NamedTuple):
    """A key that was written or deleted."""

    scope: Scope
    kind: str
    id: str


class ChangedRecord(NamedTuple):
    """A key and what it holds now: its birth and JSON body, or ``(0, None)`` when deleted."""

    change: Change
    birth: int
    body: str | None


@dataclass(frozen=True)
class ChangeSet:
    """Keys changed after a revision, each once, oldest change first.

    ``complete``: the reader was behind the horizon; ``records`` is then every record of the
    kinds asked for, in each kind's order, and the reader forgets whatever else it held.
    """

    revision: int
    complete: bool
    records: list[ChangedRecord] = field(default_factory=list)


class ChangeLog:
    """The last change of each key, in change order."""

    def __init__(self) -> None:
        self._last: dict[Change, int] = {}
        self.horizon = 0
        self._deletions = 0

    def stamp(self, key: Change, seq: int) -> None:
        self._last.pop(key, None)
        self._last[key] = seq  # re-inserted: the dict stays in seq order

    def deleted(self, key: Change, seq: int, is_live: Callable[[Change], bool]) -> None:
        self.stamp(key, seq)
        self._deletions += 1
        if self._deletions > TOMBSTONE_LIMIT:
            self._prune(is_live)

    def _prune(self, is_live: Callable[[Change], bool]) -> None:
        kept: dict[Change, int] = {}
        for key, seq in self._last.items():
            if is_live(key):
                kept[key] = seq
            else:
                self.horizon = max(self.horizon, seq)
        self._last = kept
        self._deletions = 0

    def forget_all(self, horizon: int) -> None:
        """Every reader must read everything again (after a reset)."""
        self._last = {}
        self._deletions = 0
        self.horizon = horizon

    def since(self, revision: int) -> list[Change] | None:
        """The keys changed after ``revision``, oldest first; None when it is behind the horizon."""
        if revision < self.horizon:
            return None
        changed: list[Change] = []
        for key in reversed(self._last):
            if self._last[key] <= revision:
                break
            changed.append(key)
        changed.reverse()
        return changed
