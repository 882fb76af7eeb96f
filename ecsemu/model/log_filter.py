"""CloudWatch Logs filter patterns: compile once, then ask ``matches(message)`` of each event.

Pure: no I/O, no store. ``compile_pattern`` raises :class:`FilterPatternError` (its message is
AWS's text, answered as ``InvalidParameterException``) for a pattern AWS would refuse, and
:class:`UnsupportedFilterPattern` for a valid AWS pattern ecsemu does not evaluate
(space-delimited ``[a, b, ...]`` and ``%regex%`` patterns).

Vocabulary (AWS's "Filter pattern syntax"):

term pattern
    Whitespace-separated terms, matched case-sensitively as substrings of the message:
    ``ERROR`` (must appear), ``"quoted phrase"`` (must appear, with its spaces and punctuation),
    ``?ERROR ?WARN`` (at least one of the ``?`` alternatives must appear), ``-DEBUG`` (must not
    appear). Every plain term must appear, at least one alternative when there are some, no
    exclusion. Punctuation in an unquoted term is refused (``Invalid character(s) in term``).
    An empty (or blank) pattern matches every event.
JSON pattern
    ``{ <expression> }`` over a message that is a JSON document (anything else never matches).
    An expression is comparisons joined by ``&&`` and ``||`` (``&&`` binds tighter), grouped with
    parentheses. A comparison is a selector (``$.a.b``, ``$.list[0]``) and one of:
    ``= value`` / ``!= value`` (a quoted or bare string, ``*`` matching any run of characters; or
    a number, compared numerically to a numeric field), ``> < >= <= number`` (numeric fields
    only), ``IS TRUE`` / ``IS FALSE`` / ``IS NULL``, ``NOT EXISTS`` (the field is absent).
    A selector that names nothing makes every comparison but ``NOT EXISTS`` false.

Bounds: a pattern is at most 1,024 characters (the API's own limit), so compiling is cheap and
recursion is bounded by the pattern's parentheses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

MAX_PATTERN_LENGTH: Final = 1024
INVALID: Final = "Invalid filter pattern"

_MISSING: Final = object()


class FilterPatternError(ValueError):
    """A pattern AWS refuses; ``str(error)`` is AWS's message."""


class UnsupportedFilterPattern(ValueError):
    """A pattern AWS accepts that ecsemu does not evaluate."""


Predicate = Callable[[Any], bool]  # over the decoded JSON document


@dataclass(frozen=True)
class FilterPattern:
    """A compiled pattern. ``matches`` is all a caller needs."""

    text: str
    required: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    json_predicate: Predicate | None = None

    @property
    def matches_everything(self) -> bool:
        return self.json_predicate is None and not (self.required or self.alternatives or self.excluded)

    def matches(self, message: str) -> bool:
        if self.json_predicate is not None:
            if not message.lstrip().startswith(("{", "[")):
                return False
            try:
                document = json.loads(message)
            except ValueError:
                return False
            return self.json_predicate(document)
        if any(term not in message for term in self.required):
            return False
        if self.alternatives and not any(term in message for term in self.alternatives):
            return False
        return not any(term in message for term in self.excluded)


def compile_pattern(text: str | None) -> FilterPattern:
    """The compiled form of ``text`` (None or blank: match everything)."""
    if text is None or not text.strip():
        return FilterPattern(text or "")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(INVALID)
    stripped = text.strip()
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise FilterPatternError("If a filter pattern starts with '{' it must end with '}'")
        return FilterPattern(text, json_predicate=_JsonParser(stripped[1:-1]).parse())
    if stripped.startswith("["):
        raise UnsupportedFilterPattern("Space-delimited filter patterns ([w1, w2, ...])")
    if stripped.startswith("%"):
        raise UnsupportedFilterPattern("Regular-expression filter patterns (%...%)")
    return _terms(text)


# -- term patterns ---------------------------------------------------------------------------

_TERM_TOKEN: Final = re.compile(r'\s*(?P<sign>[?-]?)(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s"]+))')
_BARE_TERM: Final = re.compile(r"^[A-Za-z0-9_.:/*\-]+$")


def _terms(text: str) -> FilterPattern:
    required: list[str] = []
    alternatives: list[str] = []
    excluded: list[str] = []
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _TERM_TOKEN.match(text, position)
        if match is None:
            raise FilterPatternError(INVALID)  # an unterminated quote
        position = match.end()
        quoted, bare = match.group("quoted"), match.group("bare")
        if bare is not None and not _BARE_TERM.match(bare):
            raise FilterPatternError(f"Invalid character(s) in term '{bare}'")
        term = bare if bare is not None else re.sub(r"\\(.)", r"\1", quoted or "")
        if not term:
            continue  # "" matches everything
        {"": required, "?": alternatives, "-": excluded}[match.group("sign")].append(term)
    return FilterPattern(text, tuple(required), tuple(alternatives), tuple(excluded))


# -- JSON patterns ---------------------------------------------------------------------------

_JSON_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>&&|\|\||!=|>=|<=|=|>|<|\(|\))
      | (?P<selector>\$(?:\.[A-Za-z0-9_@\-]+|\[\d+\])*)
      | (?P<word>[^\s()&|=!<>"]+)
    )""",
    re.VERBOSE,
)
_NUMBER: Final = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_SELECTOR_PART: Final = re.compile(r"\.([A-Za-z0-9_@\-]+)|\[(\d+)\]")


class _JsonParser:
    def __init__(self, body: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position, end = 0, len(body.rstrip())
        while position < end:
            match = _JSON_TOKEN.match(body, position)
            if match is None or match.end() == position:
                raise FilterPatternError(INVALID)
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterPatternError(INVALID)
        predicate = self._or()
        if self.index != len(self.tokens):
            raise FilterPatternError(INVALID)
        return predicate

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterPatternError(INVALID)
        self.index += 1
        return token

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek() == ("op", "||"):
            self.index += 1
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda document: any(part(document) for part in parts)

    def _and(self) -> Predicate:
        parts = [self._primary()]
        while self._peek() == ("op", "&&"):
            self.index += 1
            parts.append(self._primary())
        if len(parts) == 1:
            return parts[0]
        return lambda document: all(part(document) for part in parts)

    def _primary(self) -> Predicate:
        kind, text = self._next()
        if (kind, text) == ("op", "("):
            inner = self._or()
            if self._next() != ("op", ")"):
                raise FilterPatternError(INVALID)
            return inner
        if kind != "selector":
            raise FilterPatternError(INVALID)
        return self._comparison(_path(text))

    def _comparison(self, path: tuple[str | int, ...]) -> Predicate:
        kind, text = self._next()
        if kind == "word" and text.upper() == "IS":
            _, what = self._next()
            expected = {"TRUE": True, "FALSE": False, "NULL": None}.get(what.upper(), _MISSING)
            if expected is _MISSING:
                raise FilterPatternError(INVALID)
            return lambda document: _is(_resolve(document, path), expected)
        if kind == "word" and text.upper() == "NOT":
            if self._next()[1].upper() != "EXISTS":
                raise FilterPatternError(INVALID)
            return lambda document: _resolve(document, path) is _MISSING
        if kind != "op" or text in ("(", ")", "&&", "||"):
            raise FilterPatternError(INVALID)
        value_kind, value = self._next()
        if value_kind == "string":
            return _string_test(path, text, json.loads(value))
        if value_kind != "word":
            raise FilterPatternError(INVALID)
        if _NUMBER.match(value):
            return _number_test(path, text, float(value), value)
        if text not in ("=", "!="):
            raise FilterPatternError(INVALID)
        return _string_test(path, text, value)


def _path(selector: str) -> tuple[str | int, ...]:
    return tuple(
        int(index) if index else name for name, index in _SELECTOR_PART.findall(selector[1:])
    )  # "$" alone is the whole document


def _resolve(document: Any, path: tuple[str | int, ...]) -> Any:
    value = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return _MISSING
            value = value[part]
        else:
            if not isinstance(value, dict) or part not in value:
                return _MISSING
            value = value[part]
    return value


def _is(value: Any, expected: Any) -> bool:
    if value is _MISSING:
        return False
    return value is expected


def _wildcard(value: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in value.split("*")) + "$", re.DOTALL)


def _string_test(path: tuple[str | int, ...], op: str, expected: str) -> Predicate:
    if op not in ("=", "!="):
        raise FilterPatternError(INVALID)
    pattern = _wildcard(expected)

    def test(document: Any) -> bool:
        value = _resolve(document, path)
        if value is _MISSING or isinstance(value, dict | list):
            return False
        text = _scalar_text(value)
        return bool(pattern.match(text)) == (op == "=")

    return test


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_NUMERIC_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _number_test(path: tuple[str | int, ...], op: str, expected: float, text: str) -> Predicate:
    compare = _NUMERIC_OPS[op]

    def test(document: Any) -> bool:
        value = _resolve(document, path)
        if isinstance(value, bool) or value is _MISSING:
            return False
        if isinstance(value, int | float):
            return compare(float(value), expected)
        if isinstance(value, str) and op in ("=", "!="):
            return (value == text) == (op == "=")
        return False

    return test


def json_field(message: str, selector: str) -> Any:
    """The value ``selector`` (``$.a.b``, ``$.list[0]``) names in a JSON message; None when the
    message is not JSON or the selector names nothing (a metric filter's ``$.field`` value)."""
    try:
        document = json.loads(message)
    except ValueError:
        return None
    value = _resolve(document, _path(selector))
    return None if value is _MISSING else value
