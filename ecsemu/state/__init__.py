"""The state store: the single source of truth for every emulated resource."""

from ecsemu.state.changes import Change, ChangedRecord, ChangeSet
from ecsemu.state.store import Store

__all__ = ["Change", "ChangeSet", "ChangedRecord", "Store"]
