"""Listener rule matching, as the ELBv2 documentation states it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ecsemu.lb.model import (
    FixedResponse,
    HostHeader,
    HttpHeader,
    HttpRequestMethod,
    PathPattern,
    QueryString,
    QueryStringPair,
    RuleSpec,
    SourceIp,
)
from ecsemu.lb.rules import (
    RequestFacts,
    evaluation_order,
    host_name,
    match_rule,
    needs_facts,
    wildcard_match,
)

from .strategies import plain_text


def facts(target: str = "/", **kwargs: object) -> RequestFacts:
    method = str(kwargs.pop("method", "GET"))
    return RequestFacts.from_target(method, target, **kwargs)  # type: ignore[arg-type]


def rule(priority: int | None, *conditions: object, body: str = "") -> RuleSpec:
    return RuleSpec(priority=priority, conditions=conditions, action=FixedResponse(status=200, body=body or str(priority)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- wildcards


def test_star_matches_zero_or_more_and_question_mark_exactly_one() -> None:
    assert wildcard_match("/img/*", "/img/", ignore_case=False)
    assert wildcard_match("/img/*", "/img/a/b.png", ignore_case=False)
    assert wildcard_match("/img/?.png", "/img/a.png", ignore_case=False)
    assert not wildcard_match("/img/?.png", "/img/.png", ignore_case=False)
    assert not wildcard_match("/img/?.png", "/img/ab.png", ignore_case=False)
    assert wildcard_match("*.example.com", "api.example.com", ignore_case=True)
    assert not wildcard_match("*.example.com", "example.com", ignore_case=True)


def test_regex_characters_are_literal() -> None:
    assert wildcard_match("/a.b(c)[d]+", "/a.b(c)[d]+", ignore_case=False)
    assert not wildcard_match("/a.b", "/axb", ignore_case=False)


def test_escaped_wildcards_are_literal_where_escapes_apply() -> None:
    assert wildcard_match(r"a\*b", "a*b", ignore_case=True, escapes=True)
    assert not wildcard_match(r"a\*b", "axxb", ignore_case=True, escapes=True)
    assert wildcard_match(r"a\?", "a?", ignore_case=True, escapes=True)


@given(plain_text)
def test_a_pattern_without_wildcards_matches_only_itself(value: str) -> None:
    assert wildcard_match(value, value, ignore_case=False)
    assert not wildcard_match(value, value + "x", ignore_case=False)


@given(plain_text, plain_text, plain_text)
def test_star_stands_for_any_middle(prefix: str, middle: str, suffix: str) -> None:
    assert wildcard_match(prefix + "*" + suffix, prefix + middle + suffix, ignore_case=False)


@given(plain_text)
def test_question_marks_match_exactly_as_many_characters(value: str) -> None:
    assert wildcard_match("?" * len(value), value, ignore_case=False)
    assert not wildcard_match("?" * (len(value) + 1), value, ignore_case=False)


# --------------------------------------------------------------------------- conditions


def test_path_pattern_is_case_sensitive_and_ignores_the_query() -> None:
    cond = PathPattern(values=("/api/*",))
    rules = (rule(1, cond),)
    assert match_rule(rules, facts("/api/users?x=/other")) is rules[0]
    assert match_rule(rules, facts("/API/users")) is None
    assert match_rule(rules, facts("/other?/api/x")) is None


def test_host_header_is_case_insensitive_and_ignores_the_port() -> None:
    rules = (rule(1, HostHeader(values=("api.example.com",))),)
    assert match_rule(rules, facts(host="API.Example.COM:8080")) is rules[0]
    assert match_rule(rules, facts(host="www.example.com")) is None
    assert host_name("[::1]:80") == "[::1]"


def test_http_header_name_and_values_are_case_insensitive_and_each_occurrence_counts() -> None:
    rules = (rule(1, HttpHeader(name="X-Env", values=("beta*",))),)
    headers = (("x-env", "prod"), ("X-ENV", "BETA-2"))
    assert match_rule(rules, facts(headers=headers)) is rules[0]
    assert match_rule(rules, facts(headers=(("x-env", "prod"),))) is None
    assert match_rule(rules, facts()) is None


def test_method_is_exact() -> None:
    rules = (rule(1, HttpRequestMethod(values=("POST", "PUT"))),)
    assert match_rule(rules, facts(method="PUT")) is rules[0]
    assert match_rule(rules, facts(method="put")) is None
    assert match_rule(rules, facts(method="GET")) is None


def test_query_string_pairs_and_values_case_insensitive_with_wildcards() -> None:
    by_pair = (rule(1, QueryString(values=(QueryStringPair(key="version", value="v?"),))),)
    assert match_rule(by_pair, facts("/?a=1&VERSION=V2")) is by_pair[0]
    assert match_rule(by_pair, facts("/?version=v10")) is None
    by_value = (rule(1, QueryString(values=(QueryStringPair(value="*example*"),))),)
    assert match_rule(by_value, facts("/?q=an%20Example%20here")) is by_value[0]
    assert match_rule(by_value, facts("/?q=nothing")) is None


def test_source_ip_cidrs() -> None:
    rules = (rule(1, SourceIp(values=("10.0.0.0/8", "127.0.0.0/8"))),)
    assert match_rule(rules, facts(source_ip="127.0.0.5")) is rules[0]
    assert match_rule(rules, facts(source_ip="192.168.1.1")) is None


def test_all_conditions_of_a_rule_must_match() -> None:
    rules = (rule(1, PathPattern(values=("/a",)), HttpRequestMethod(values=("GET",))),)
    assert match_rule(rules, facts("/a")) is rules[0]
    assert match_rule(rules, facts("/a", method="POST")) is None


# --------------------------------------------------------------------------- priorities


def test_rules_are_evaluated_by_priority_then_default() -> None:
    default = rule(None, body="default")
    ordered = evaluation_order((default, rule(20, PathPattern(values=("/*",))), rule(10, PathPattern(values=("/a*",)))))
    assert [r.priority for r in ordered] == [10, 20, None]
    assert match_rule(ordered, facts("/abc")) is ordered[0]
    assert match_rule(ordered, facts("/zzz")) is ordered[1]
    assert match_rule(evaluation_order((default, rule(5, PathPattern(values=("/x",))))), facts("/y")) is default


def test_a_listener_with_only_a_default_rule_needs_no_inspection() -> None:
    assert not needs_facts(evaluation_order((rule(None),)))
    assert needs_facts(evaluation_order((rule(None), rule(1, PathPattern(values=("/",))))))


@given(st.lists(st.tuples(st.integers(1, 50000), st.sampled_from(["/a*", "/b*", "/*", "/a/b"])), max_size=8, unique_by=lambda t: t[0]), st.sampled_from(["/a", "/a/b", "/b/c", "/c"]))
def test_the_matching_rule_is_the_lowest_priority_that_matches(specs: list[tuple[int, str]], path: str) -> None:
    rules = [rule(p, PathPattern(values=(pattern,))) for p, pattern in specs] + [rule(None)]
    chosen = match_rule(evaluation_order(rules), facts(path))
    matching = [r for r in rules[:-1] if wildcard_match(r.conditions[0].values[0], path, ignore_case=False)]  # type: ignore[union-attr]
    if matching:
        assert chosen is min(matching, key=lambda r: r.priority or 0)
    else:
        assert chosen is rules[-1]
