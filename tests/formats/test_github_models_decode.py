"""A `.prompt.yml` is imported as gh-models reads it: yaml.v3 (3.0.1, gh's go.mod) decoding the
file into gh's typed structs (`pkg/prompt/prompt.go`). Every expected value and error below was
printed by a Go program decoding each file with gh-models' own `prompt.File` types and
gopkg.in/yaml.v3 3.0.1 (Debian's golang-gopkg-yaml.v3-dev, Go 1.19, linux/amd64), then sending
the parameters as gh does (`json.Marshal` of azuremodels.ChatCompletionOptions): checked with
yaml.v3 3.0.1, kept here as data so that the tests need no Go."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from workbench.core.formats.base import Conversion, Source
from workbench.core.formats.github_models import convert
from workbench.core.model import Severity


def no_file(name: str) -> str:
    raise KeyError(name)


def gh_convert(text: str) -> Conversion:
    return convert(Source("p.prompt.yml", text, no_file, ""))


def imported(text: str) -> dict[str, Any]:
    conversion = gh_convert(text)
    assert [p.message for p in conversion.problems if p.severity is Severity.ERROR] == []
    (out,) = conversion.files
    document = yaml.safe_load(out.text)
    assert isinstance(document, dict)
    return document


def refused(text: str) -> list[tuple[int, str]]:
    conversion = gh_convert(text)
    assert conversion.files == []
    return [(p.line, p.message) for p in conversion.problems if p.severity is Severity.ERROR]


# `modelParameters` are `*int` / `*float64`: yaml.v3's `scalar` sets an int from a Go int, or
# from a float64 up to 2^63, truncated (`1.5` is 1, `.5` is 0; on amd64 a float below -2^63
# converts to the least int64); a float64 from any number; text, booleans and times are type
# errors; a null leaves the pointer nil (gh sends nothing).
MAX_TOKENS = [
    ("1.5", 1),
    ("12.0", 12),
    ("1e3", 1000),
    ("0x10", 16),
    ("0o17", 15),
    ("017", 15),
    ("08", 8),
    ("1_000", 1000),
    ("0b101", 5),
    ("!!int 12", 12),
    ("!!float 12", 12),
    ("9223372036854775807", 9223372036854775807),
    ("null", None),
    ("~", None),
    ("", None),
]
# ... and the ones below 1, that no request can ask for: gh sends them as they are
MAX_TOKENS_BELOW_ONE = [
    ("0", 0),
    ("-1", -1),
    ("-1.5", -1),
    ("0.9999", 0),
    ("-0x10", -16),
    ("-.inf", -9223372036854775808),
    ("-1e30", -9223372036854775808),
    ("9223372036854775808.0", -9223372036854775808),  # 2^63 itself: the least int64 on amd64
]
TEMPERATURE = [
    ("0.5", 0.5),
    ("1", 1.0),
    ("1e3", 1000.0),
    ("0x10", 16.0),
    ("0o17", 15.0),
    ("1_0.5", 10.5),
    (".5e-3", 0.0005),
    ("+.5", 0.5),
    ("!!int 1", 1.0),
    ("18446744073709551615", 18446744073709551615.0),
    ("null", None),
    ("~", None),
]
PARAMETER_ERRORS = [
    ("maxTokens", '"12"', "cannot unmarshal !!str `12` into int"),
    ("maxTokens", "'12'", "cannot unmarshal !!str `12` into int"),
    ("maxTokens", "!!str 12", "cannot unmarshal !!str `12` into int"),
    ("maxTokens", "abc", "cannot unmarshal !!str `abc` into int"),
    ("maxTokens", "true", "cannot unmarshal !!bool `true` into int"),
    ("maxTokens", ".inf", "cannot unmarshal !!float `.inf` into int"),
    ("maxTokens", ".nan", "cannot unmarshal !!float `.nan` into int"),
    ("maxTokens", "9.3e18", "cannot unmarshal !!float `9.3e18` into int"),
    ("maxTokens", "1e19", "cannot unmarshal !!float `1e19` into int"),
    ("maxTokens", "9223372036854775808", "cannot unmarshal !!int `9223372...` into int"),
    ("maxTokens", "2001-12-14", "cannot unmarshal !!timestamp `2001-12-14` into int"),
    ("maxTokens", "!!binary MTI=", "cannot unmarshal !!binary `MTI=` into int"),
    ("temperature", '"0.5"', "cannot unmarshal !!str `0.5` into float64"),
    ("temperature", "true", "cannot unmarshal !!bool `true` into float64"),
    ("temperature", "1e400", "cannot unmarshal !!str `1e400` into float64"),
    ("temperature", "1:30", "cannot unmarshal !!str `1:30` into float64"),
    ("topP", "[1]", "cannot unmarshal !!seq into float64"),
    ("topP", "{a: 1}", "cannot unmarshal !!map into float64"),
]


def parameters(key: str, value: str) -> Any:
    """The imported parameter; `None` where gh sends none (the key is then absent)."""
    document = imported(f"modelParameters:\n  {key}: {value}\nmessages:\n  - {{role: user, content: hi}}\n")
    gh_name = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p"}[key]
    sent = document.get("model", {}).get("parameters", {})
    assert sent.get(gh_name, 0) is not None  # never written as null
    return sent.get(gh_name)


@pytest.mark.parametrize(("value", "sent"), MAX_TOKENS)
def test_max_tokens_is_the_go_int_gh_decodes(value: str, sent: int | None) -> None:
    got = parameters("maxTokens", value)
    assert got == sent and type(got) is type(sent)


@pytest.mark.parametrize(("value", "sent"), TEMPERATURE)
def test_temperature_and_top_p_are_the_go_float64_gh_decodes(value: str, sent: float | None) -> None:
    for key in ("temperature", "topP"):
        got = parameters(key, value)
        assert got == sent and type(got) is type(sent)


@pytest.mark.parametrize(("key", "value", "error"), PARAMETER_ERRORS)
def test_a_parameter_gh_cannot_decode_is_an_import_error(key: str, value: str, error: str) -> None:
    problems = refused(f"modelParameters:\n  {key}: {value}\nmessages:\n  - {{role: user, content: hi}}\n")
    assert problems == [(2, f"gh models cannot read this file (yaml.v3): line 2: {error}")]


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN"])
def test_an_infinite_temperature_is_refused_gh_cannot_send_it(value: str) -> None:
    """yaml.v3 decodes `.inf` into a float64, but gh's request is JSON, which has no infinity:
    `json: unsupported value: +Inf`, so every request of the file fails."""
    problems = refused(f"modelParameters:\n  temperature: {value}\nmessages:\n  - {{role: user, content: hi}}\n")
    assert len(problems) == 1 and problems[0][0] == 2 and "JSON has no" in problems[0][1]


@pytest.mark.parametrize(("value", "sent"), MAX_TOKENS_BELOW_ONE)
def test_max_tokens_below_one_is_refused_every_request_would_fail(value: str, sent: int) -> None:
    """yaml.v3 decodes `-.inf` or `-1e30` into the least int64, `0.9999` into 0: gh sends that
    max_tokens, and a model cannot answer in fewer than 1 token, so every request of the file
    fails, as with an infinite temperature. The import says so, with the number gh holds."""
    problems = refused(f"modelParameters:\n  maxTokens: {value}\nmessages:\n  - {{role: user, content: hi}}\n")
    assert problems == [
        (2, f"maxTokens {value!r} is {sent} to gh models, which sends it as max_tokens: every request fails (a model answers in at least 1 token)")
    ]


def test_a_null_or_missing_content_is_the_empty_message_gh_sends() -> None:
    """`Content string`: a null (`~`, `null`, nothing) or no `content` leaves Go's "", and `gh
    models eval` sends `{"role": "user", "content": ""}`; a null message item is skipped."""
    text = "messages:\n  - {role: system, content: ~}\n  - {role: user, content: null}\n  - {role: user, content: }\n  - {role: user}\n  - role: assistant\n    content:\n  - {role: user, content: !!null ''}\n"
    assert imported(text)["messages"] == [{"role": r, "content": ""} for r in ("system", "user", "user", "user", "assistant", "user")]


# yaml.v3 refuses a mapping with the same key text twice, wherever gh decodes it (not under a key
# gh ignores); `~` and `null` are different texts, `x` and `"x"` the same. yaml.v3's messages:
DUPLICATES = [
    ("model: a\nname: n\nmodel: b\n", [(3, 'line 3: mapping key "model" already defined at line 1')]),
    ("foo: 1\nfoo: 2\nbar: {a: 1, a: 2}\n", [(2, 'line 2: mapping key "foo" already defined at line 1')]),
    ("modelParameters:\n  maxTokens: 1\n  maxTokens: 2\n  other: 1\n  other: 3\n", [(3, 'line 3: mapping key "maxTokens" already defined at line 2'), (5, 'line 5: mapping key "other" already defined at line 4')]),
    (
        'testData:\n  - {x: 1, "x": 2, ~: 1, null: 2}\n  - {y: {a: 1, a: 1}}\n  - {y: [{b: 1, b: 2}]}\nmessages:\n  - {role: user, content: a, content: b}\n',
        [(2, 'line 2: mapping key "x" already defined at line 2'), (3, 'line 3: mapping key "a" already defined at line 3'), (4, 'line 4: mapping key "b" already defined at line 4'), (6, 'line 6: mapping key "content" already defined at line 6')],
    ),
    ("base: &b {role: user, content: x}\nmessages:\n  - {<<: *b, content: y}\n  - <<: *b\n    <<: *b\n", [(5, 'line 5: mapping key "<<" already defined at line 4')]),
    ("m: &m {a: 1, a: 2}\ntestData:\n  - {<<: *m, b: 1}\n", [(1, 'line 1: mapping key "a" already defined at line 1')]),
    (
        "a: 1\na: 2\na: 3\nb: 1\na: 4\nb: 2\n",
        [(2, 'line 2: mapping key "a" already defined at line 1'), (3, 'line 3: mapping key "a" already defined at line 1'), (5, 'line 5: mapping key "a" already defined at line 1'), (3, 'line 3: mapping key "a" already defined at line 2'), (5, 'line 5: mapping key "a" already defined at line 2'), (5, 'line 5: mapping key "a" already defined at line 3'), (6, 'line 6: mapping key "b" already defined at line 4')],
    ),
    ("!!binary bW9kZWw=: a\nmodel: b\n", [(2, "line 2: field model already set in type prompt.File")]),
    # An alias key is yaml.v3's alias node: its Value is the anchor's name, so two `*k` are the same
    # key (at the aliases' lines), whatever they name; `*f` naming a field already set is a field set twice.
    ("testData: [{a: &k x, *k : 1, *k : 2}]\n", [(1, 'line 1: mapping key "k" already defined at line 1')]),
    ("testData:\n  - {a: &k b}\n  - {*k : 1,\n     *k : 2}\n", [(4, 'line 4: mapping key "k" already defined at line 3')]),
    ("testData:\n  - {y: {a: &k b, *k : 1, *k : 2}}\n", [(2, 'line 2: mapping key "k" already defined at line 2')]),
    ("name: &f model\n*f : a\n*f : b\n", [(3, 'line 3: mapping key "f" already defined at line 2')]),
    ("model: x\ndescription: &f model\n*f : y\n", [(3, "line 3: field model already set in type prompt.File")]),
]


@pytest.mark.parametrize(("text", "errors"), DUPLICATES)
def test_a_duplicate_key_gh_decodes_is_an_import_error(text: str, errors: list[tuple[int, str]]) -> None:
    assert refused(text) == [(line, f"gh models cannot read this file (yaml.v3): {message}") for line, message in errors]


def test_duplicates_gh_never_decodes_are_no_error() -> None:
    """Under a key gh's struct does not have, or `~` beside `null`: gh reads the file."""
    document = imported("other: {a: 1, a: 2}\nmessages:\n  - {role: user, content: '{{x}}'}\ntestData:\n  - {x: 1, ~: 1, null: 2}\n")
    assert document["tests"][0]["vars"] == {"x": 1}


def test_binary_scalars_are_the_text_gh_decodes() -> None:
    """yaml.v3 base64-decodes a `!!binary` scalar into a Go string field or an interface{}: a
    message, a role, a testData key and value, an evaluator's string (printed by gh's decode)."""
    text = (
        "messages:\n  - {role: user, content: !!binary aGVsbG8=}\n  - {role: !!binary dXNlcg==, content: !!binary \"aGk=\"}\n"
        "  - role: user\n    content: !!binary |\n      aGVs\n      bG8g\n      d29y\n      bGQ=\n  - {role: user, content: '{{x}} {{y}}'}\n"
        "  - {role: user, content: !!binary gIA=}\ntestData:\n  - {x: !!binary aGk=, !!binary eQ==: 1}\n"
        "evaluators:\n  - {name: e, string: {equals: !!binary aGk=}}\n"
    )
    document = imported(text)
    assert [m["content"] for m in document["messages"]] == ["hello", "hi", "hello world", "{{ x }} {{ y }}", "\ufffd\ufffd"]
    assert document["tests"][0]["vars"] == {"x": "hi", "y": 1}
    assert document["defaultTest"]["assert"][0]["value"] == "hi"


@pytest.mark.parametrize("data", ["aGk", "aGk==", "aG=", "aGk=aGk=", "'aGk ='", "_w=="])
def test_bad_binary_data_in_a_field_gh_decodes_is_an_import_error(data: str) -> None:
    assert refused(f"messages:\n  - {{role: user, content: !!binary {data}}}\n") == [(2, "gh models cannot read this file (yaml.v3): !!binary value contains invalid base64 data")]


def test_what_gh_does_not_decode_may_hold_anything() -> None:
    """gh skips a key its struct lacks: bad `!!binary` data or `!!int abc` there is no error."""
    assert imported("foo: !!binary '***'\nbar: !!int abc\nmessages:\n  - {role: user, content: hi}\n")["messages"] == [{"role": "user", "content": "hi"}]
    assert refused("messages:\n  - {role: user, content: !!int abc}\n") == [(2, "gh models cannot read this file (yaml.v3): cannot decode !!str `abc` as a !!int")]


def test_an_alias_key_is_not_a_duplicate_of_its_anchor() -> None:
    """yaml.v3 compares an alias node with the key it names by kind too: `{&k a: 1, *k : 2}`
    is read, the row's `a` being 2 (gh's decode)."""
    document = imported("messages:\n  - {role: user, content: '{{a}}'}\ntestData:\n  - {&k a: 1, *k : 2}\n")
    assert document["tests"][0]["vars"] == {"a": 2}


def rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**test.get("vars", {}), **test.get("metadata", {})} for test in document["tests"]]


# An alias key (`*k`) is no duplicate of a scalar key with its target's text; decoded into the
# row's map[string]interface{} it is that text, the later of two equal keys setting the value.
ALIAS_ROWS = [
    ("testData: [{a: &j x, *j : 1, x: 2}]\n", [{"a": "x", "x": 2}]),
    ("testData:\n  - {a: &k b}\n  - {*k : 1, b: 2}\n", [{"a": "b"}, {"b": 2}]),
    ("testData:\n  - {a: &k b}\n  - {y: {*k : 1, b: 2}}\n", [{"a": "b"}, {"y": {"b": 2}}]),
    ("testData: [{&x a: 1, x: 2, *x : 3}]\n", [{"a": 3, "x": 2}]),
    ("testData: [{a: &n 1, *n : 2}]\n", [{"a": 1, "1": 2}]),
    ("testData:\n  - {<<: {x: 1}, a: &k x, *k : 2}\n", [{"a": "x", "x": 2}]),
    # yaml.v3's merge key is a scalar `<<` (isMerge); an alias of one is an ordinary key "<<".
    ("testData:\n  - {&m <<: {a: 1}, b: 2}\n  - {*m : 5, d: 4}\n", [{"a": 1, "b": 2}, {"<<": 5, "d": 4}]),
    ("testData:\n  - {&m <<: {a: 1}, *m : {c: 3}}\n", [{"a": 1, "<<": {"c": 3}}]),
    # Merged in, that "<<" is skipped: yaml.v3's `merge` skips the keys the mapping has, its own
    # `<<` decoded as the text "<<" (and the value is never decoded: `!!int x` is no error).
    ("testData:\n  - &r {&m <<: {a: 1}, *m : 2}\n  - {<<: *r, c: 3}\n  - {<<: [*r], *m : 4}\n", [{"a": 1, "<<": 2}, {"a": 1, "c": 3}, {"a": 1, "<<": 4}]),
    ("testData: [{<<: {<<: {&m <<: {a: 1}, *m : !!int x}, b: 1}}]\n", [{"a": 1, "b": 1}]),
]


@pytest.mark.parametrize(("text", "expected"), ALIAS_ROWS)
def test_alias_keys_are_decoded_as_gh_decodes_them(text: str, expected: list[dict[str, Any]]) -> None:
    assert rows(imported("messages:\n  - {role: user, content: hi}\n" + text)) == expected


def test_an_alias_key_names_a_field_and_an_aliased_merge_key_merges_nothing() -> None:
    """`*f : gpt` sets the field `model`; `*m : {topP: 0.5}` is a key "<<" that prompt.ModelParameters
    lacks: gh sends max_tokens 1 and no top_p."""
    assert imported("description: &f model\n*f : gpt\nmessages:\n  - {role: user, content: hi}\n")["model"]["name"] == "gpt"
    document = imported("modelParameters: {&m <<: {maxTokens: 1}, *m : {topP: 0.5}}\nmessages:\n  - {role: user, content: hi}\n")
    assert document["model"]["parameters"] == {"max_tokens": 1}


def test_many_duplicate_keys_are_reported_in_bounded_memory() -> None:
    """yaml.v3 lists every pair of equal keys (n² / 2 of them); the first 50, in its order, are
    reported. They were picked from 50 pairs per key, all built and sorted: a 1 MB file of 80,000
    `k:` keys took 8.5 s and 690 MB. Only the pairs reported are built now."""
    import tracemalloc

    text = "messages:\n  - {role: user, content: hi}\ntestData:\n  - " + "\n    ".join(f"k: {i}" for i in range(20_000)) + "\n"
    tracemalloc.start()
    try:
        errors = refused(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(errors) == 50
    assert errors[:2] == [(5, "gh models cannot read this file (yaml.v3): line 5: mapping key \"k\" already defined at line 4"), (6, "gh models cannot read this file (yaml.v3): line 6: mapping key \"k\" already defined at line 4")]
    assert peak < 60_000_000, peak
