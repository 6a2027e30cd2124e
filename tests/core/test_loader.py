"""The loader and validator: every kind of breakage is reported at its exact position."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core.loader import load_prompt
from workbench.core.model import Severity

BROKEN = Path(__file__).parent / "broken"
SAMPLES = Path(__file__).resolve().parents[2] / "prompts"

# file -> (line, col, text the message must contain, hint it must contain or None)
EXPECTED = {
    "01_malformed.yaml": (4, 1, "invalid YAML", None),
    "02_duplicate_key.yaml": (2, 1, "duplicate key 'description' (first defined at line 1)", "remove one"),
    "03_unknown_field.yaml": (1, 1, "unknown field 'descripton'", "did you mean 'description'?"),
    "04_wrong_type.yaml": (1, 7, "tags: expected array, got a string", None),
    "05_bad_role.yaml": (2, 11, "'robot' is not one of system, user, assistant", None),
    "06_template_syntax.yaml": (3, 14, "message 1 (user): template error", None),
    "07_undeclared_var.yaml": (3, 14, "uses 'name', which is not declared in inputs", "under inputs:"),
    "08_missing_required_var.yaml": (7, 5, "does not set required input 'name'", None),
    "09_unknown_assertion.yaml": (7, 15, "unknown assertion type 'contain'", "did you mean 'contains'?"),
    "10_unknown_provider.yaml": (2, 13, "unknown provider 'anthropic-magic'", "openai, local, echo"),
    "11_no_messages.yaml": (1, 1, "missing `messages` (chat) or `template` (completion)", None),
    "12_both_messages_and_template.yaml": (4, 1, "either `messages` (chat) or `template`", None),
    "13_default_wrong_type.yaml": (2, 31, "default of input 'n' is not an integer", None),
    "14_name_mismatch.yaml": (1, 7, "does not match the file's path", "remove `name`"),
    "15_missing_tests_file.yaml": (4, 8, "tests file missing.tests.yaml not found", None),
    "16_not_a_mapping.yaml": (1, 1, "must be a YAML mapping", None),
    "17_negative_weight.yaml": (9, 17, "weight: -2 is less than the minimum of 0", None),
    "18_missing_content.yaml": (2, 5, "missing required field 'content'", None),
    "19_bad_key_env.yaml": (2, 16, "model.api_key_env", None),
    "20_empty.yaml": (1, 1, "file is empty", None),
}


def _load(name: str):  # type: ignore[no-untyped-def]
    text = (BROKEN / name).read_text()

    def read_file(rel: str) -> str:
        raise FileNotFoundError(rel)

    return load_prompt(text, f"prompts/{name}", read_file=read_file)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_breakage_is_reported_at_its_position(name: str) -> None:
    line, col, text, hint = EXPECTED[name]
    result = _load(name)
    assert result.prompt is None and not result.ok
    matching = [p for p in result.errors if text in p.message]
    assert matching, [p.format() for p in result.problems]
    problem = matching[0]
    assert (problem.line, problem.col) == (line, col), problem.format()
    assert problem.format().startswith(f"prompts/{name}:{line}:{col}: error: ")
    if hint:
        assert problem.hint and hint in problem.hint


def test_every_broken_file_is_covered() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 15


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    text = "modle: {}\nmessages:\n  - role: user\n    content: '{{ a }} {{ b'\ntests:\n  - assert: [{type: contain}]\n"
    result = load_prompt(text, "prompts/x.yaml")
    messages = [p.message for p in result.problems]
    assert any("unknown field 'modle'" in m for m in messages)
    assert any("template error" in m for m in messages)
    assert any("unknown assertion type 'contain'" in m for m in messages)


@pytest.mark.parametrize("parameter", ["stream: true", "stream_options: {include_usage: true}"])
def test_streaming_is_not_a_model_parameter(parameter: str) -> None:
    """`stream` in model.parameters passed validate, then every --stream run died ("multiple values
    for keyword argument 'stream'", no report) and every plain one retried a stream it cannot read."""
    text = f"model:\n  provider: openai\n  parameters:\n    temperature: 0\n    {parameter}\nmessages:\n  - {{role: user, content: hi}}\n"
    result = load_prompt(text, "prompts/x.yaml")
    (problem,) = result.problems
    name = parameter.split(":")[0]
    assert problem.severity is Severity.ERROR and (problem.line, problem.col) == (5, 5), problem.format()
    assert f"model.parameters.{name} is not allowed here" in problem.message
    assert problem.hint and "--stream" in problem.hint


def test_unused_input_is_a_warning_not_an_error() -> None:
    text = "inputs:\n  a: {type: string}\n  b: {type: string}\nmessages:\n  - {role: user, content: '{{ a }}'}\n"
    result = load_prompt(text, "prompts/x.yaml")
    assert result.ok
    (warning,) = result.problems
    assert warning.severity is Severity.WARNING and "'b' is declared but no template uses it" in warning.message
    assert (warning.line, warning.col) == (3, 3)


def test_default_test_is_merged_like_promptfoo() -> None:
    text = (
        "inputs:\n  q: {type: string, required: true}\n  lang: {type: string, default: en}\n"
        "messages:\n  - {role: user, content: '{{ q }} {{ lang }}'}\n"
        "defaultTest:\n  vars: {lang: pt, q: default}\n  assert: [{type: contains, value: a}]\n"
        "tests:\n  - description: one\n    vars: {q: hello}\n    assert: [{type: icontains, value: b}]\n"
    )
    result = load_prompt(text, "prompts/x.yaml")
    assert result.prompt is not None
    (case,) = result.prompt.tests
    assert case.vars == {"lang": "pt", "q": "hello"}
    assert [a.type for a in case.asserts] == ["contains", "icontains"]


def test_tests_from_a_referenced_file_resolve_relative_to_the_prompt() -> None:
    files = {"prompts/rag/qa.tests.yaml": "- description: from file\n  vars: {q: x}\n  assert: [{type: contains, value: x}]\n"}
    text = "inputs:\n  q: {type: string}\nmessages:\n  - {role: user, content: '{{ q }}'}\ntests: file://qa.tests.yaml\n"
    result = load_prompt(text, "prompts/rag/qa.yaml", read_file=files.__getitem__)
    assert result.prompt is not None
    assert [c.description for c in result.prompt.tests] == ["from file"]


def test_problems_in_a_referenced_tests_file_name_that_file() -> None:
    files = {"prompts/qa.tests.yaml": "- description: bad\n  assert: [{type: equalz, value: x}]\n"}
    text = "messages:\n  - {role: user, content: hi}\ntests: file://qa.tests.yaml\n"
    result = load_prompt(text, "prompts/qa.yaml", read_file=files.__getitem__)
    (problem,) = result.errors
    assert problem.path == "prompts/qa.tests.yaml" and problem.line == 2 and "equalz" in problem.message


@pytest.mark.parametrize("path", sorted(SAMPLES.rglob("*.yaml")), ids=lambda p: p.name)
def test_sample_prompts_are_valid_with_six_tests(path: Path) -> None:
    if path.name.endswith(".tests.yaml"):
        pytest.skip("tests file")
    root = SAMPLES.parent
    rel = path.relative_to(root).as_posix()
    result = load_prompt(path.read_text(), rel, read_file=lambda r: (root / r).read_text())
    assert result.ok, [p.format() for p in result.problems]
    assert result.prompt is not None and len(result.prompt.tests) >= 6
    assert len({a.base_type for c in result.prompt.tests for a in c.asserts}) >= 2


def test_packaged_samples_equal_the_repository_prompts() -> None:
    packaged = Path(__file__).resolve().parents[2] / "workbench" / "samples" / "prompts"
    for path in SAMPLES.rglob("*.yaml"):
        assert (packaged / path.relative_to(SAMPLES)).read_text() == path.read_text(), path
    assert len(list(packaged.rglob("*.yaml"))) == len(list(SAMPLES.rglob("*.yaml")))


VALID = (SAMPLES / "support" / "summarize.yaml").read_text()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    result = load_prompt(text, "prompts/fuzz.yaml")
    assert result.ok or result.problems


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(VALID)), st.integers(0, 40), st.text(alphabet=" :-{}[]'\"|>#&*!%@`\n\t{}abc0", max_size=12))
def test_mutated_sample_never_raises(start: int, length: int, insert: str) -> None:
    text = VALID[:start] + insert + VALID[start + length :]
    result = load_prompt(text, "prompts/support/summarize.yaml", read_file=lambda r: "")
    assert result.ok or result.problems
    for problem in result.problems:
        assert problem.line >= 0 and problem.col >= 0 and problem.message


def test_numbers_json_cannot_carry_are_refused_where_they_are() -> None:
    """`weight: .nan` passed validation and the report then held `"weight": NaN`, which no JSON
    parser reads (nor would a request body with `temperature: .nan`)."""
    text = (
        "model:\n  parameters: {temperature: .nan}\n"
        "inputs:\n  x: {type: number}\n"
        "template: 'hi {{ x }}'\n"
        "tests:\n  - vars: {x: .inf}\n    assert: [{type: contains, value: hi, weight: -.Inf}]\n"
    )
    result = load_prompt(text, "prompts/n.yaml")
    assert result.prompt is None
    finite = sorted((p.line, p.message) for p in result.errors if "not a finite number" in p.message)
    assert [line for line, _ in finite] == [2, 7, 8], result.errors
    assert finite[2][1] == "tests[0].assert[0].weight: -inf is not a finite number"
    files = {"prompts/n.tests.yaml": "- vars: {x: 1}\n  assert: [{type: contains, value: hi, weight: .NaN}]\n"}
    result = load_prompt("template: hi\ntests: file://n.tests.yaml\n", "prompts/n.yaml", read_file=files.__getitem__)
    (problem,) = result.errors
    assert problem.path == "prompts/n.tests.yaml" and problem.line == 2 and "not a finite number" in problem.message


@pytest.mark.parametrize(("key", "shown"), [("1", "1"), ("null", "None"), ("true", "True")])
def test_an_input_name_yaml_reads_as_a_number_or_null_is_refused(key: str, shown: str) -> None:
    """`inputs: {null: ...}` passed validation as an input named 'None' (the schema's name rule
    applies to text keys only), which no template can use."""
    result = load_prompt(f"inputs:\n  {key}: {{type: string}}\ntemplate: hi\n", "prompts/x.yaml")
    (problem,) = result.errors
    assert problem.line == 2 and f"input name {shown} is not text" in problem.message


def test_an_input_named_self_is_refused_at_its_line() -> None:
    """`{{ self }}` rendered `<TemplateReference None>` whatever was passed, and validate only
    warned that the input was unused."""
    result = load_prompt("inputs:\n  ticket: {type: string}\n  self: {type: string}\nmessages:\n  - {role: user, content: 'hi {{ self }}'}\n", "prompts/x.yaml")
    (problem,) = result.errors
    assert (problem.line, problem.col) == (3, 3) and "input name 'self' is reserved by Jinja" in problem.message
    assert problem.hint and "rename" in problem.hint


@pytest.mark.parametrize("key", ["loop", "caller", "varargs", "kwargs"])
def test_names_jinja_binds_only_inside_a_loop_or_macro_are_inputs_like_any(key: str) -> None:
    """Only `self` is bound at a template's top: `{{ loop }}` there renders the value passed, so
    refusing these names (as a first version of the rule did) refused working prompts."""
    from workbench.core.render import render_prompt

    result = load_prompt(f"inputs:\n  {key}: {{type: string}}\nmessages:\n  - {{role: user, content: 'n={{{{ {key} }}}}'}}\n", "prompts/x.yaml")
    assert result.ok and result.prompt is not None, result.errors
    assert render_prompt(result.prompt, {key: "VAL"}).messages[0]["content"] == "n=VAL"
