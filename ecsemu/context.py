"""The request context a provider receives: who is calling, where, and under which request id.

A context is immutable. ``scope`` is the (account, region) pair that isolates all state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import NamedTuple


class Scope(NamedTuple):
    """An account and region: state never crosses from one scope to another."""

    account_id: str
    region: str


@dataclass(frozen=True)
class RequestContext:
    account_id: str
    region: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def scope(self) -> Scope:
        return Scope(self.account_id, self.region)
