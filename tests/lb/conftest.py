"""Fixtures of the engine and proxy tests: ``engine`` is a started engine (stopped after, with
no thread left), ``backends`` starts raw backends (``test_engine.py`` has its own ``backend``:
the in-process HTTP backends of ``backends.py``).
"""


from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ecsemu.lb import (
    LoadBalancerEngine,
)

from .proxy_backends import (
    RawBackend,
)
from .proxy_support import (
    lb_threads,
    start_engine,
)


@pytest.fixture
def engine() -> Iterator[LoadBalancerEngine]:
    others = lb_threads()
    lb = start_engine()
    yield lb
    lb.stop()
    assert lb_threads() <= others


@pytest.fixture
def backends() -> Iterator[Callable[[str], RawBackend]]:
    started: list[RawBackend] = []

    def make(name: str) -> RawBackend:
        started.append(RawBackend(name))
        return started[-1]

    yield make
    for backend in started:
        backend.stop()
    assert [b.errors for b in started] == [[] for _ in started]
