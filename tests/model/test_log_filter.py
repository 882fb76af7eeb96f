"""Unit tests of ecsemu.model.log_filter: term patterns, JSON patterns, and the patterns refused."""

from __future__ import annotations

import json

import pytest

from ecsemu.model.log_filter import FilterPatternError, UnsupportedFilterPattern, compile_pattern


def matches(pattern: str, message: str) -> bool:
    return compile_pattern(pattern).matches(message)


@pytest.mark.parametrize("pattern", [None, "", "   ", '""'])
def test_an_empty_pattern_matches_everything(pattern: str | None) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.matches("anything") and compiled.matches("")


def test_every_term_must_appear_case_sensitively() -> None:
    assert matches("ERROR disk", "ERROR: disk full")
    assert not matches("ERROR disk", "ERROR: network down")
    assert not matches("ERROR", "error: lower case")


def test_a_quoted_phrase_matches_with_its_spaces_and_punctuation() -> None:
    assert matches('"disk full"', "ERROR: disk full")
    assert not matches('"disk full"', "disk is full")
    assert matches('"user@example.com"', "login user@example.com ok")
    assert matches('"say \\"hi\\""', 'they say "hi"')


def test_alternatives_need_one_of_them() -> None:
    assert matches("?ERROR ?WARN", "WARN low memory")
    assert matches("?ERROR ?WARN", "ERROR crash")
    assert not matches("?ERROR ?WARN", "INFO fine")


def test_exclusions_must_not_appear() -> None:
    assert matches("ERROR -Exiting", "ERROR crash")
    assert not matches("ERROR -Exiting", "ERROR Exiting now")


def test_punctuation_in_an_unquoted_term_is_refused_with_aws_text() -> None:
    with pytest.raises(FilterPatternError, match=r"Invalid character\(s\) in term 'user@example.com'"):
        compile_pattern("user@example.com")


def test_an_unterminated_quote_is_refused() -> None:
    with pytest.raises(FilterPatternError, match="Invalid filter pattern"):
        compile_pattern('"open')


DOC = json.dumps(
    {
        "level": "ERROR",
        "status": 503,
        "latency": 12.5,
        "user": {"name": "ana", "id": "u-17"},
        "tags": ["a", "b"],
        "ok": False,
        "retry": True,
        "note": None,
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.level = "ERROR" }', True),
        ("{ $.level = ERROR }", True),
        ('{ $.level = "WARN" }', False),
        ('{ $.level != "WARN" }', True),
        ('{ $.user.name = "ana" }', True),
        ('{ $.user.id = "u-*" }', True),
        ('{ $.user.id = "x-*" }', False),
        ("{ $.status = 503 }", True),
        ("{ $.status >= 500 }", True),
        ("{ $.status < 500 }", False),
        ("{ $.latency > 12 }", True),
        ("{ $.latency <= 12 }", False),
        ('{ $.tags[1] = "b" }', True),
        ("{ $.ok IS FALSE }", True),
        ("{ $.retry IS TRUE }", True),
        ("{ $.ok IS TRUE }", False),
        ("{ $.note IS NULL }", True),
        ("{ $.missing NOT EXISTS }", True),
        ("{ $.level NOT EXISTS }", False),
        ('{ $.missing = "x" }', False),
        ('{ $.missing != "x" }', False),
        ('{ $.level = "ERROR" && $.status = 200 }', False),
        ('{ $.level = "ERROR" || $.status = 200 }', True),
        ('{ ($.status = 200 || $.status = 503) && $.user.name = "ana" }', True),
        ('{ $.status = 200 || $.status = 404 && $.level = "ERROR" }', False),
    ],
)
def test_json_patterns(pattern: str, expected: bool) -> None:
    assert matches(pattern, DOC) is expected


def test_a_json_pattern_never_matches_text_that_is_not_json() -> None:
    assert not matches('{ $.level = "ERROR" }', "level=ERROR")
    assert not matches('{ $.level = "ERROR" }', "{broken json")


@pytest.mark.parametrize(
    "pattern",
    [
        "{ $.level = }",
        "{ }",
        "{ level = 1 }",
        '{ $.a = "x" && }',
        '{ ($.a = "x" }',
        '{ $.a > "x" }',
        "{ $.a IS MAYBE }",
        "{ $.a NOT THERE }",
        '{ $.a = "x" ) }',
    ],
)
def test_malformed_json_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(FilterPatternError, match="Invalid filter pattern"):
        compile_pattern(pattern)


def test_a_json_pattern_must_close_its_brace_with_aws_text() -> None:
    with pytest.raises(FilterPatternError, match="If a filter pattern starts with '\\{' it must end with '\\}'"):
        compile_pattern('{ $.a = "x"')


@pytest.mark.parametrize("pattern", ["[ip, user, status = 404]", "%ERROR%"])
def test_patterns_ecsemu_does_not_evaluate_say_so(pattern: str) -> None:
    with pytest.raises(UnsupportedFilterPattern):
        compile_pattern(pattern)


def test_a_pattern_longer_than_the_api_allows_is_refused() -> None:
    with pytest.raises(FilterPatternError):
        compile_pattern("a " * 600)
