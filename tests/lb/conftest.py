"""Fixtures of the fast-path differential tests (test_fastpath_*.py): ``engine`` runs a test on
each engine in turn, ``engines`` gives both at once, ``backends`` starts raw backends.

``test_engine.py`` defines its own ``engine`` and ``backend``, which take precedence there.
"""


from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ecsemu.lb import (
    LoadBalancerEngine,
)

from .fastpath_backends import (
    ENGINES,
    RawBackend,
)
from .fastpath_support import (
    lb_threads,
    start_engine,
)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[LoadBalancerEngine]:
    others = lb_threads()
    lb = start_engine(request.param)
    yield lb
    lb.stop()
    assert lb_threads() <= others


@pytest.fixture
def engines() -> Iterator[dict[str, LoadBalancerEngine]]:
    others = lb_threads()
    both = {kind: start_engine(kind) for kind in ENGINES}
    yield both
    for lb in both.values():
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
