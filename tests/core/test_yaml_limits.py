"""Hostile YAML: alias bombs, self-referencing aliases, deep nesting and huge values are refused
with a positioned error by every parser of the product, instead of eating minutes and gigabytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli.common import run_app
from workbench.core.config import parse_config
from workbench.core.diff import diff_prompt_texts
from workbench.core.loader import load_prompt
from workbench.core.yamlpos import DEFAULT_LIMITS, YamlSyntaxError, load_plain, parse_yaml

PROMPT = "messages:\n  - {role: user, content: hi}\n"


def alias_bomb(levels: int = 9, width: int = 9, key: str = "") -> str:
    """The classic 'billion laughs' in YAML: each level repeats the previous one `width` times."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f'{key}{names[0]}: &{names[0]} ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"{key}{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_the_390_byte_alias_bomb_is_refused_at_its_position() -> None:
    text = alias_bomb()
    assert len(text) < 400
    result = load_prompt(PROMPT + text, "prompts/bomb.yaml")
    assert result.prompt is None
    (problem,) = result.errors
    assert "aliases" in problem.message and f"{DEFAULT_LIMITS.max_nodes:,}" in problem.message
    # 9**6 = 531,441 values: the anchor &g on line 9 is the first to pass the limit.
    assert (problem.line, problem.col) == (9, 4), problem.format()


def test_a_self_referencing_alias_is_refused() -> None:
    result = load_prompt(PROMPT + "x: &a [1, *a]\n", "prompts/loop.yaml")
    (problem,) = result.errors
    assert "refers to itself" in problem.message and (problem.line, problem.col) == (3, 4)


def test_merge_key_bombs_are_refused() -> None:
    lines = ["m0: &m0 {a: 1, b: 2, c: 3}"]
    for i in range(1, 12):
        lines.append(f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}], k{i}: 1}}")
    result = load_prompt(PROMPT + "\n".join(lines) + "\n", "prompts/merge.yaml")
    assert any("aliases" in p.message for p in result.errors), [p.format() for p in result.problems]


def test_alias_bombs_in_mapping_keys_are_refused() -> None:
    result = load_prompt(PROMPT + alias_bomb() + "? *j\n: 1\n", "prompts/keys.yaml")
    assert any("aliases" in p.message for p in result.errors)


@pytest.mark.parametrize(
    "text",
    ["x: " + "[" * 5000 + "]" * 5000, "x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)), "- " * 3000 + "x"],
    ids=["flow", "block", "compact"],
)
def test_deep_nesting_is_a_positioned_error(text: str) -> None:
    with pytest.raises(YamlSyntaxError) as err:
        parse_yaml(text)
    assert f"more than {DEFAULT_LIMITS.max_depth} levels" in err.value.message
    assert (err.value.line, err.value.col) != (1, 1) or text.startswith("- ")


def test_aliases_cannot_build_depth_either() -> None:
    lines = ["d0: &d0 [1]"] + [f"d{i}: &d{i} [[[[[*d{i - 1}]]]]]" for i in range(1, 40)]
    with pytest.raises(YamlSyntaxError) as err:
        parse_yaml("\n".join(lines))
    assert f"more than {DEFAULT_LIMITS.max_depth} levels" in err.value.message and err.value.line > 1


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    text = "description: " + "a" * (DEFAULT_LIMITS.max_chars + 1) + "\n"
    with pytest.raises(YamlSyntaxError) as err:
        parse_yaml(text)
    assert "characters" in err.value.message and f"{DEFAULT_LIMITS.max_chars:,}" in err.value.message


def test_many_aliases_of_a_long_string_are_refused() -> None:
    big = "a" * 500_000
    text = f"x: &s {big}\ny: [{', '.join(['*s'] * 20)}]\n"
    with pytest.raises(YamlSyntaxError) as err:
        parse_yaml(text)
    assert "characters" in err.value.message and err.value.line == 2


@pytest.mark.parametrize("number", ["1" * 5000, "1:" * 3000 + "1", "0x" + "f" * 5000], ids=["decimal", "sexagesimal", "hex"])
def test_huge_numbers_are_positioned_errors(number: str) -> None:
    result = load_prompt(PROMPT + f"description: {number}\n", "prompts/n.yaml")
    assert result.prompt is None
    (problem,) = result.errors
    assert (problem.line, problem.col) == (3, 14) and "number" in problem.message
    assert "internal error" not in problem.message


def test_ordinary_anchors_and_merge_keys_still_work() -> None:
    text = (
        "inputs:\n  q: {type: string}\nmessages:\n  - {role: user, content: '{{ q }}'}\n"
        "tests:\n  - description: one\n    vars: &v {q: hello}\n    assert: &checks [{type: contains, value: h}]\n"
        "  - description: two\n    vars: {<<: *v}\n    assert: *checks\n"
    )
    result = load_prompt(text, "prompts/ok.yaml")
    assert result.ok and result.prompt is not None
    assert [c.vars for c in result.prompt.tests] == [{"q": "hello"}, {"q": "hello"}]


def test_workbench_yaml_and_tests_files_use_the_same_limits() -> None:
    _, problems = parse_config("environments: [dev]\n" + alias_bomb())
    assert problems and "aliases" in problems[0].message and problems[0].line > 1
    files = {"prompts/bomb.tests.yaml": "- description: one\n  vars: {}\n  metadata:\n" + "".join("    " + line + "\n" for line in alias_bomb().splitlines())}
    result = load_prompt(PROMPT + "tests: file://bomb.tests.yaml\n", "prompts/p.yaml", read_file=files.__getitem__)
    assert any(p.path == "prompts/bomb.tests.yaml" and "aliases" in p.message for p in result.errors)


def test_plain_loading_for_diffs_and_variables_has_the_same_limits() -> None:
    with pytest.raises(YamlSyntaxError, match="aliases"):
        load_plain(alias_bomb())
    assert load_plain("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    diff = diff_prompt_texts(PROMPT, PROMPT + alias_bomb(), name="p")
    assert diff.sections  # the field-aware diff gives up on the bomb side; the text diff remains


def test_render_vars_file_alias_bomb_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.yaml").write_text(PROMPT)
    (tmp_path / "vars.yaml").write_text(alias_bomb())
    assert run_app(["-C", str(tmp_path), "render", "p", "--vars-file", str(tmp_path / "vars.yaml")]) == 2
    assert "aliases" in capsys.readouterr().err
    assert run_app(["-C", str(tmp_path), "render", "p", "--var", "x=&a [*a]"]) == 2
    assert "refers to itself" in capsys.readouterr().err


def test_validate_reports_the_bomb_with_its_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "bomb.yaml").write_text(PROMPT + alias_bomb())
    assert run_app(["-C", str(tmp_path), "validate"]) == 1
    assert "prompts/bomb.yaml:9:4: error: " in capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    ["[" + ",".join(["1"] * 500) + "]", "- \n" * 500, "?\n" * 500, "[" + ",".join(["[]"] * 300) + "]", "{" + ", ".join(["? "] * 300) + "}",
     "".join(f"k{i}:\n" for i in range(300)), "[" + ",".join(["{}"] * 300) + "]", "[" + ",".join(["a: "] * 300) + "]", "-\n" * 500],
    ids=["numbers", "empty-items", "empty-keys", "empty-lists", "flow-keys", "empty-values", "empty-maps", "flow-pairs", "bare-dashes"],
)
def test_without_an_anchor_a_text_holds_at_most_two_values_per_character(text: str) -> None:
    """What lets an anchor-free text skip measuring (yamlpos._may_expand): the densest texts
    found still hold fewer values than twice their length, and no more characters."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    values, chars, stack = 0, 0, [node]
    while stack:
        current = stack.pop()
        values += 1
        if isinstance(current, yaml.ScalarNode):
            chars += len(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(child for pair in current.value for child in pair)
        else:
            stack.extend(current.value)
    assert values <= 2 * len(text) + 2 and chars <= len(text)
    parse_yaml(text)  # and within the limits, it loads


def test_without_an_anchor_depth_is_refused_at_the_first_level_past_the_limit() -> None:
    with pytest.raises(YamlSyntaxError) as err:
        parse_yaml("[" * 150 + "]" * 150)
    assert (err.value.line, err.value.col) == (1, DEFAULT_LIMITS.max_depth + 2)
