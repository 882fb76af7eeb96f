"""``Store.snapshot``: one call's reads see one revision; writes inside it are committed at once
and heard by listeners when it ends, outside the lock."""

from __future__ import annotations

import threading
from pathlib import Path

from ecsemu.context import Scope
from ecsemu.state.changes import Change
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")


def test_no_other_thread_writes_between_the_reads_of_a_snapshot() -> None:
    store = Store()
    store.put(SCOPE, "task", "c/1", {"n": 1})
    started = threading.Event()

    def writer() -> None:
        started.set()
        store.put(SCOPE, "task", "c/2", {"n": 2})

    with store.snapshot():
        before = store.count(SCOPE, "task", under="c")
        thread = threading.Thread(target=writer)
        thread.start()
        started.wait(timeout=5)
        thread.join(timeout=0.2)  # it waits for the snapshot to end
        assert thread.is_alive()
        assert store.list(SCOPE, "task", under="c") == [{"n": 1}] and before == 1
    thread.join(timeout=5)
    assert store.count(SCOPE, "task", under="c") == 2


def test_writes_inside_a_snapshot_are_durable_at_once_and_heard_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = Store(path)
    heard: list[tuple[list[Change], bool]] = []

    def listener(changes: list[Change]) -> None:
        # Called outside the lock: another thread can take it right now.
        free = threading.Thread(target=lambda: store.count(SCOPE, "cluster"))
        free.start()
        free.join(timeout=2)
        heard.append((changes, not free.is_alive()))

    store.subscribe(listener)
    with store.snapshot():
        with store.snapshot():
            store.put(SCOPE, "cluster", "a", {"name": "a"})
        assert Store(path).get(SCOPE, "cluster", "a") == {"name": "a"}  # committed already
        store.put(SCOPE, "cluster", "b", {"name": "b"})
        assert heard == []
    assert [change.id for changes, _free in heard for change in changes] == ["a", "b"]
    assert all(free for _changes, free in heard)
    store.put(SCOPE, "cluster", "c", {"name": "c"})
    assert [change.id for change in heard[-1][0]] == ["c"]


def test_a_failed_call_inside_a_snapshot_still_tells_what_it_committed() -> None:
    store = Store()
    heard: list[str] = []
    store.subscribe(lambda changes: heard.extend(change.id for change in changes))
    try:
        with store.snapshot():
            store.put(SCOPE, "cluster", "kept", {})
            with store.transaction():
                store.put(SCOPE, "cluster", "undone", {})
                raise RuntimeError("refused")
    except RuntimeError:
        pass
    assert heard == ["kept"]
    assert store.ids(SCOPE, "cluster") == ["kept"]
