"""CloudWatch metric math: parse an ``Expression`` of a MetricDataQuery and evaluate it over the
time series of the other queries. Pure: no store, no clock.

What is understood (the arithmetic AWS's own policies and most alarms use):

* numbers, query ids (``m1``, ``e1``: they start with a lowercase letter), ``[a, b]`` arrays,
  parentheses, unary ``-``, and ``+ - * / ^`` with the usual precedence;
* ``SUM AVG MIN MAX`` (of an array: one series, per timestamp across its members; of one series:
  a scalar over its values), ``ABS``, ``METRICS()`` / ``METRICS("text")`` (the request's metric
  queries, those whose id or label contains the text), ``FILL(x, value | REPEAT | LINEAR)``;
* comparisons ``== != < <= > >=`` (1 when true, 0 when false), logical ``AND``/``&&``,
  ``OR``/``||``, ``NOT``, below arithmetic in precedence (AWS's order: arithmetic, comparison,
  logical), and ``IF(condition, true value[, false value])``: per timestamp, the true value where
  the condition is not 0, else the false value, or no datapoint when there is none.

Vocabulary: a **series** is ``{timestamp: value}`` for the timestamps that have a value; the
**grid** is every bucket start of the request (``FILL`` fills it; a scalar result is shown on it).
Series meet series on the timestamps both have; a division by zero leaves that timestamp out.
Anything else raises :class:`MathError`, whose message the API wraps as AWS does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

Series = dict[float, float]


@dataclass(frozen=True)
class Named:
    """A series with the id and label of the query it came from (``METRICS()`` filters on them)."""

    id: str
    label: str
    series: Series


Value = float | Series | list[Series]

MAX_EXPRESSION_LENGTH: Final = 2048
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>\"[^\"]*\"|'[^']*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^(),\[\]<>]))"
)


class MathError(ValueError):
    """An expression that cannot be parsed or evaluated."""


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    kind: str  # "number" | "ref" | "string" | "call" | "array" | "neg" | "binary"
    text: str = ""
    number: float = 0.0
    children: tuple[Node, ...] = ()


def _tokens(expression: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    expression = expression.rstrip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise MathError(f"Unrecognized token at position {position + 1}.")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


class _Parser:
    def __init__(self, expression: str) -> None:
        if not expression.strip():
            raise MathError("The expression is empty.")
        if len(expression) > MAX_EXPRESSION_LENGTH:
            raise MathError(f"The expression is longer than {MAX_EXPRESSION_LENGTH} characters.")
        self.tokens = _tokens(expression)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (text is not None and token[1] != text):
            raise MathError(f"Expected {text!r}." if text else "Unexpected end of expression.")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.logical()
        if self.peek() is not None:
            raise MathError(f"Unexpected token {self.peek()[1]!r}.")  # type: ignore[index]
        return node

    def _is(self, texts: tuple[str, ...]) -> str | None:
        token = self.peek()
        if token is None or token[0] == "string":
            return None
        text = token[1].upper() if token[0] == "name" else token[1]
        return text if text in texts else None

    def logical(self) -> Node:
        node = self.conjunction()
        while self._is(("OR", "||")) is not None:
            self.take()
            node = Node("binary", "OR", children=(node, self.conjunction()))
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self._is(("AND", "&&")) is not None:
            self.take()
            node = Node("binary", "AND", children=(node, self.negation()))
        return node

    def negation(self) -> Node:
        if self._is(("NOT",)) is not None:
            self.take()
            return Node("binary", "==", children=(self.negation(), Node("number", "0", 0.0)))
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        while (operator := self._is(_COMPARISONS)) is not None:
            self.take()
            node = Node("binary", operator, children=(node, self.sum()))
        return node

    def sum(self) -> Node:
        node = self.product()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.take()
            node = Node("binary", token[1], children=(node, self.product()))
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            self.take()
            node = Node("binary", token[1], children=(node, self.unary()))
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token[1] == "-":
            self.take()
            return Node("neg", children=(self.unary(),))
        node = self.primary()
        if (token := self.peek()) is not None and token[1] == "^":
            self.take()
            node = Node("binary", "^", children=(node, self.unary()))
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "number":
            return Node("number", text, float(text))
        if kind == "string":
            return Node("string", text[1:-1])
        if kind == "name":
            if (token := self.peek()) is not None and token[1] == "(":
                self.take()
                return Node("call", text.upper(), children=tuple(self.arguments(")")))
            if text.upper() in ("REPEAT", "LINEAR"):
                return Node("string", text.upper())
            if not text[0].islower():
                raise MathError(f"Unknown identifier {text!r}: query ids start with a lowercase letter.")
            return Node("ref", text)
        if text == "(":
            node = self.logical()
            self.take(")")
            return node
        if text == "[":
            return Node("array", children=tuple(self.arguments("]")))
        raise MathError(f"Unexpected token {text!r}.")

    def arguments(self, closing: str) -> list[Node]:
        out: list[Node] = []
        if (token := self.peek()) is not None and token[1] == closing:
            self.take()
            return out
        while True:
            out.append(self.logical())
            if self.take()[1] == closing:
                return out
            if self.tokens[self.at - 1][1] != ",":
                raise MathError(f"Expected ',' or {closing!r}.")


def parse(expression: str) -> Node:
    return _Parser(expression).parse()


def references(node: Node) -> set[str]:
    """The query ids an expression names (``METRICS()`` names none: it takes the metrics)."""
    if node.kind == "ref":
        return {node.text}
    found: set[str] = set()
    for child in node.children:
        found |= references(child)
    return found


def uses_metrics(node: Node) -> bool:
    return (node.kind == "call" and node.text == "METRICS") or any(uses_metrics(child) for child in node.children)


# -- evaluation ------------------------------------------------------------------------------


def _combine(left: Value, right: Value, operation: Callable[[float, float], float | None]) -> Value:
    if isinstance(left, list):
        return [_combine(item, right, operation) for item in left]  # type: ignore[misc]
    if isinstance(right, list):
        return [_combine(left, item, operation) for item in right]  # type: ignore[misc]
    if isinstance(left, dict) and isinstance(right, dict):
        return _drop_none({t: operation(v, right[t]) for t, v in left.items() if t in right})
    if isinstance(left, dict):
        assert not isinstance(right, dict)
        return _drop_none({t: operation(v, right) for t, v in left.items()})
    if isinstance(right, dict):
        return _drop_none({t: operation(left, v) for t, v in right.items()})
    result = operation(left, right)
    if result is None:
        raise MathError("Division by zero.")
    return result


def _drop_none(series: dict[float, float | None]) -> Series:
    return {t: v for t, v in sorted(series.items()) if v is not None}


def _divide(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def _power(a: float, b: float) -> float | None:
    try:
        result = a**b
    except (OverflowError, ZeroDivisionError):
        return None
    return result if isinstance(result, float | int) else None


_COMPARISONS: Final = ("==", "!=", "<=", ">=", "<", ">")
_OPERATIONS: Final[dict[str, Callable[[float, float], float | None]]] = {
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<=": lambda a, b: float(a <= b),
    ">=": lambda a, b: float(a >= b),
    "<": lambda a, b: float(a < b),
    ">": lambda a, b: float(a > b),
    "AND": lambda a, b: float(a != 0 and b != 0),
    "OR": lambda a, b: float(a != 0 or b != 0),
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "^": _power,
}
_REDUCERS: Final[dict[str, Callable[[Sequence[float]], float]]] = {
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
    "MIN": min,
    "MAX": max,
}


@dataclass
class Context:
    """What an expression sees: the results so far by id, the metric queries (for METRICS()),
    and the grid of the request."""

    results: Mapping[str, Series]
    metrics: Sequence[Named]
    grid: Sequence[float]


def evaluate(node: Node, context: Context) -> Value:
    if node.kind == "number":
        return node.number
    if node.kind == "ref":
        if node.text not in context.results:
            raise MathError(f"Unrecognized metric id {node.text!r}.")
        return dict(context.results[node.text])
    if node.kind == "string":
        raise MathError(f"Unexpected string {node.text!r}.")
    if node.kind == "array":
        return [_as_series(evaluate(child, context), context) for child in node.children]
    if node.kind == "neg":
        return _combine(evaluate(node.children[0], context), -1.0, _OPERATIONS["*"])
    if node.kind == "binary":
        left, right = (evaluate(child, context) for child in node.children)
        return _combine(left, right, _OPERATIONS[node.text])
    return _call(node, context)


def _as_series(value: Value, context: Context) -> Series:
    if isinstance(value, list):
        raise MathError("An array cannot contain an array.")
    if isinstance(value, dict):
        return value
    return dict.fromkeys(context.grid, value)


def _call(node: Node, context: Context) -> Value:
    name, arguments = node.text, node.children
    if name == "METRICS":
        if len(arguments) > 1 or (arguments and arguments[0].kind != "string"):
            raise MathError("METRICS takes no argument or one string.")
        text = arguments[0].text if arguments else ""
        return [dict(m.series) for m in context.metrics if text in m.id or text in m.label]
    if name in _REDUCERS:
        if len(arguments) != 1:
            raise MathError(f"{name} takes one argument.")
        return _reduce(name, evaluate(arguments[0], context))
    if name == "ABS":
        if len(arguments) != 1:
            raise MathError("ABS takes one argument.")
        return _combine(evaluate(arguments[0], context), 0.0, lambda a, _b: abs(a))
    if name == "IF":
        if len(arguments) not in (2, 3):
            raise MathError("IF takes two or three arguments.")
        return _if(*(evaluate(argument, context) for argument in arguments))
    if name == "FILL":
        if len(arguments) != 2:
            raise MathError("FILL takes two arguments.")
        value = evaluate(arguments[0], context)
        how = arguments[1].text if arguments[1].kind == "string" else evaluate(arguments[1], context)
        if isinstance(value, list):
            return [_fill(series, how, context.grid) for series in value]
        if not isinstance(value, dict):
            raise MathError("FILL needs a time series.")
        return _fill(value, how, context.grid)
    raise MathError(f"Unknown function {name}.")


def _at(value: Value, stamp: float) -> float | None:
    if isinstance(value, list):
        raise MathError("IF takes time series or numbers, not arrays.")
    return value.get(stamp) if isinstance(value, dict) else value


def _if(condition: Value, when_true: Value, when_false: Value | None = None) -> Value:
    if isinstance(condition, list):
        raise MathError("IF takes time series or numbers, not arrays.")
    if not isinstance(condition, dict):
        chosen = when_true if condition != 0 else when_false
        if chosen is None:
            return {}
        return chosen
    out: dict[float, float | None] = {}
    for stamp, test in condition.items():
        out[stamp] = _at(when_true, stamp) if test != 0 else (None if when_false is None else _at(when_false, stamp))
    return _drop_none(out)


def _reduce(name: str, value: Value) -> Value:
    reducer = _REDUCERS[name]
    if isinstance(value, list):
        stamps = sorted({t for series in value for t in series})
        return {t: reducer([s[t] for s in value if t in s]) for t in stamps}
    if isinstance(value, dict):
        if not value:
            raise MathError(f"{name} of an empty time series.")
        return reducer(list(value.values()))
    return value


def _fill(series: Series, how: Value | str, grid: Sequence[float]) -> Series:
    if isinstance(how, float | int):
        return {t: series.get(t, float(how)) for t in sorted({*grid, *series})}
    if how not in ("REPEAT", "LINEAR"):
        raise MathError("FILL takes a number, REPEAT or LINEAR.")
    known = sorted(series.items())
    if not known:
        return {}
    out: Series = {}
    for t in sorted({*grid, *series}):
        if t in series:
            out[t] = series[t]
            continue
        before = [(s, v) for s, v in known if s < t]
        after = [(s, v) for s, v in known if s > t]
        if how == "REPEAT" or not (before and after):
            out[t] = before[-1][1] if before else after[0][1]
        else:
            (t0, v0), (t1, v1) = before[-1], after[0]
            out[t] = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return out


def series_result(value: Value, context: Context) -> Series:
    """An expression's value as one series (a scalar is shown on the grid)."""
    if isinstance(value, list):
        if len(value) == 1:
            return value[0]
        raise MathError("The expression returns more than one time series; use SUM, AVG, MIN or MAX of it.")
    return _as_series(value, context)
