"""Listener rule matching: which rule answers a request. Pure functions, no I/O.

Semantics, as the ELBv2 documentation states them
-------------------------------------------------
* Rules are evaluated in priority order, lowest number first; the default rule (priority
  ``None``) comes last and matches every request.
* A rule matches when all its conditions match; a condition matches when any one of its values
  does.
* Wildcards: ``*`` matches 0 or more characters, ``?`` exactly one character.
* ``path-pattern``: compared with the path only (never the query string), case-sensitively.
* ``host-header``: host names are not case-sensitive. The port of the Host header is not part
  of the host name, so ``example.com:8080`` is matched as ``example.com``.
* ``http-header``: the header name is not case-sensitive, nor are the compared values; when the
  header appears several times, each occurrence is tried in order.
* ``http-request-method``: exact, case-sensitive; no wildcards.
* ``query-string``: key/value pairs (or values alone, key ``None``) compared case-insensitively
  with the request's percent-decoded pairs; ``\\*`` and ``\\?`` stand for literal characters.
* ``source-ip``: the client address is in one of the CIDR blocks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

from ecsemu.lb.model import (
    Condition,
    HostHeader,
    HttpHeader,
    HttpRequestMethod,
    PathPattern,
    QueryString,
    RuleSpec,
    SourceIp,
)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What rules may look at in a request (decoded from the wire by the proxy)."""

    method: str
    path: str
    query: str = ""
    host: str = ""
    """The Host header as sent (port included, if any)."""
    headers: tuple[tuple[str, str], ...] = ()
    """``(name, value)`` in arrival order; names in any case."""
    source_ip: str = "127.0.0.1"

    @staticmethod
    def from_target(
        method: str,
        target: str,
        *,
        host: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        source_ip: str = "127.0.0.1",
    ) -> RequestFacts:
        """Split a request target (``/path?query``) into path and query."""
        path, _, query = target.partition("?")
        path, _, _ = path.partition("#")
        query, _, _ = query.partition("#")
        return RequestFacts(method=method, path=path, query=query, host=host, headers=headers, source_ip=source_ip)


# --------------------------------------------------------------------------- wildcards


@lru_cache(maxsize=4096)
def wildcard_regex(pattern: str, *, ignore_case: bool, escapes: bool = False) -> re.Pattern[str]:
    """Compile an ELB wildcard pattern; with ``escapes``, ``\\*`` and ``\\?`` are literal."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escapes and char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*?\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
        index += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool, escapes: bool = False) -> bool:
    return wildcard_regex(pattern, ignore_case=ignore_case, escapes=escapes).fullmatch(value) is not None


# --------------------------------------------------------------------------- conditions


def host_name(host_header: str) -> str:
    """The host name of a Host header value: its port removed (IPv6 literals kept whole)."""
    host = host_header.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    name, _, _ = host.partition(":")
    return name


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def condition_matches(condition: Condition, facts: RequestFacts) -> bool:
    if isinstance(condition, PathPattern):
        return any(wildcard_match(p, facts.path, ignore_case=False) for p in condition.values)
    if isinstance(condition, HostHeader):
        host = host_name(facts.host)
        return any(wildcard_match(p, host, ignore_case=True) for p in condition.values)
    if isinstance(condition, HttpHeader):
        wanted = condition.name.lower()
        sent = [value for name, value in facts.headers if name.lower() == wanted]
        return any(wildcard_match(p, value, ignore_case=True) for value in sent for p in condition.values)
    if isinstance(condition, HttpRequestMethod):
        return facts.method in condition.values
    if isinstance(condition, QueryString):
        pairs = _query_pairs(facts.query)
        for wanted_pair in condition.values:
            for key, value in pairs:
                if wanted_pair.key is not None and not wildcard_match(
                    wanted_pair.key, key, ignore_case=True, escapes=True
                ):
                    continue
                if wildcard_match(wanted_pair.value, value, ignore_case=True, escapes=True):
                    return True
        return False
    if isinstance(condition, SourceIp):
        try:
            address = ipaddress.ip_address(facts.source_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in condition.values)
    raise TypeError(f"unknown rule condition {condition!r}")


def rule_matches(rule: RuleSpec, facts: RequestFacts) -> bool:
    if rule.priority is None:
        return True
    return all(condition_matches(condition, facts) for condition in rule.conditions)


def evaluation_order(rules: Sequence[RuleSpec]) -> tuple[RuleSpec, ...]:
    """Rules as the listener evaluates them: by priority, the default rule(s) last."""
    numbered = sorted((r for r in rules if r.priority is not None), key=lambda r: r.priority or 0)
    defaults = [r for r in rules if r.priority is None]
    return (*numbered, *defaults)


def match_rule(ordered_rules: Sequence[RuleSpec], facts: RequestFacts) -> RuleSpec | None:
    """The first rule of ``ordered_rules`` (see :func:`evaluation_order`) that matches."""
    for rule in ordered_rules:
        if rule_matches(rule, facts):
            return rule
    return None


def needs_facts(ordered_rules: Sequence[RuleSpec]) -> bool:
    """False when the first rule always matches, so a request need not be inspected at all."""
    return bool(ordered_rules) and ordered_rules[0].priority is not None
