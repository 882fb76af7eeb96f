"""What the AWS services share that is no one service's rule: opaque page tokens and request
digests for idempotency.

Invariants:
- A page token is opaque to clients: base64 of ``{"offset": n}``. A token that does not decode
  to a non-negative offset is the caller's error (each service names its own: ECS answers
  ``InvalidParameterException``, ELBv2 ``ValidationError``).
- Two requests with equal digests asked for the same thing (the client token left out).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def registrar(table: dict[str, F]) -> Callable[[str], Callable[[F], F]]:
    """A service's ``@operation("Name")`` decorator: it records the function in ``table`` (the
    service's operations, by API name) and returns it unchanged."""

    def operation(name: str) -> Callable[[F], F]:
        def register(function: F) -> F:
            table[name] = function
            return function

        return register

    return operation


def page(
    items: Sequence[T], token: str | None, size: int, invalid: Callable[[], Exception], *, negative_ok: bool = False
) -> tuple[list[T], str | None]:
    """The page of ``items`` that ``token`` starts (the first without one), at most ``size``
    long, and the token of the next page if more follow; ``invalid()`` is raised for a bad token
    (and for a negative offset unless ``negative_ok``: ECS's tokens count it from the end, as a
    Python slice does, which ecsemu has always answered and keeps)."""
    start = 0
    if token:
        try:
            start = int(json.loads(base64.b64decode(token, validate=True))["offset"])
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise invalid() from error
        if start < 0 and not negative_ok:
            raise invalid()
    chosen = list(items[start : start + size])
    end = start + len(chosen)
    if end < len(items):
        return chosen, base64.b64encode(json.dumps({"offset": end}).encode()).decode()
    return chosen, None


def request_digest(params: Mapping[str, Any], token_member: str = "clientToken") -> str:
    """What a request asked, without its client token: equal digests, same request."""
    asked = {key: value for key, value in params.items() if key != token_member}
    return hashlib.sha256(json.dumps(asked, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
