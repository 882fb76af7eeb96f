"""The state store: the single source of truth for every emulated resource."""

from ecsemu.state.store import Change, Store

__all__ = ["Change", "Store"]
