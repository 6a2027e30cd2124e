"""Hostile input, generated: YAML with aliases, deep nesting and control characters; templates
with loops and large repetition; names with `-`, `..`, `/`, markup and escapes.

Every path (the loader, `validate`, `list` and `render` through the CLI entry point, and
`PromptRepo.get()` + render) must end with a result or a clear error: never a traceback, an
"unexpected error" or an "internal error". No timed assertions: the limits make every input
end; `benchmarks/hostile_input.py` measures how fast.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli.common import run_app
from workbench.core.config import parse_config
from workbench.core.loader import load_prompt
from workbench.core.model import Message, Prompt
from workbench.core.names import check_prompt_name, prompt_name_problem
from workbench.core.render import render_prompt
from workbench.core.yamlpos import YamlSyntaxError, load_plain
from workbench.errors import PromptError, RenderError, RepoError
from workbench.runtime import PromptRepo

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
CLI_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SECRET = "OUTSIDE-SECRET-7f3a"
BAD_WORDS = ("Traceback", "unexpected error", "internal error")

# ---------------------------------------------------------------- generators

CONTROL = "".join(chr(c) for c in (*range(0, 32), 0x7F, 0x85, 0x9B, 0x202E, 0xFEFF))
scalar_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=CONTROL + "ab:#&*!|>-[]{}'\"\\", max_size=30),
    st.sampled_from(['"\\x1b[2J"', "'\x1b]8;;x\x07'", "~", "1e999", "0x" + "f" * 80, "!!binary aGVsbG8=", "!!python/object:os.system", "<<", "? x", "1:" * 50 + "1", "9" * 5000]),
)


@st.composite
def yaml_documents(draw: st.DrawFn) -> str:
    """Documents built from anchors, aliases (repeated, merged, self-referencing), deep
    nesting, control characters and odd scalars, sometimes around a valid prompt."""
    lines: list[str] = []
    anchors: list[str] = []
    for i in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["scalar", "aliases", "aliases", "nested", "merge", "self", "raw"]))
        anchor = f"a{i}"
        if kind == "aliases" and anchors:
            refs = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=12))
            value = "[" + ",".join(f"*{r}" for r in refs) + "]"
        elif kind == "merge" and anchors:
            refs = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=9))
            value = "{<<: [" + ",".join(f"*{r}" for r in refs) + "], x: 1}"
        elif kind == "nested":
            depth = draw(st.sampled_from([1, 5, 50, 99, 101, 400, 3000]))
            opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
            value = opener * depth + "1" + closer * depth
        elif kind == "self":
            lines.append(f"k{i}: &s{i} [1, *s{i}]")
            continue
        elif kind == "raw":
            value = draw(st.text(alphabet=CONTROL + "ab :-[]{}&*!|>'\"\n", max_size=60))
        else:
            value = draw(scalar_text)
        lines.append(f"k{i}: &{anchor} {value}")
        anchors.append(anchor)
    body = "\n".join(lines) + "\n"
    if draw(st.booleans()):  # as the variables of a test of a valid prompt
        indented = "".join("      " + line + "\n" for line in body.splitlines())
        body = "messages: [{role: user, content: hi}]\ntests:\n  - description: generated\n    vars:\n" + indented
    return body


NUMBERS = st.sampled_from([0, 3, 1000, 100_000, 10**9, 10**18])
TEMPLATE_PIECES = [
    "{% for i in range(N) %}", "{% endfor %}", "{{ 'a' * N }}", "{{ [1] * N }}", "{{ N ** N }}", "{{ (N ** 3) * (N ** 3) }}",
    "{{ range(N)|join('x' * N) }}", "{{ 'x'|center(N) }}", "{{ 'x'.ljust(N) }}", "{{ 'a\\nb'|indent(N) }}", "{{ lipsum(N) }}",
    "{{ '%*s'|format(N, 'a') }}", "{{ '{:>N}'.format('a') }}", "{{ [1]|batch(N, 0)|list|length }}", "{{ (1).to_bytes(N, 'big')|length }}",
    "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "{% set ns = namespace(s='ab') %}", "{% set ns.s = ns.s ~ ns.s %}",
    "{% set ns.s = [ns.s, ns.s] %}", "{{ ns.s|length }}", "{{ x }}", "plain text ", "{{ 'é' * 3 }}", "{%", "}}", "{{ '\x1b[2J' }}",
]


@st.composite
def templates(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(TEMPLATE_PIECES), min_size=1, max_size=8))
    return "".join(piece.replace("N", str(draw(NUMBERS))) for piece in pieces)


NAME_ALPHABET = "-./[]@ \\\x1b\n\t_~:*?ab%é"
names = st.one_of(
    st.text(alphabet=NAME_ALPHABET, max_size=14),
    st.sampled_from(["-x", "--file=x", "../../outside", "/abs/path", "x[reverse]evil", "[@click=app.quit]", "a/../b", "ok", "sub/ok", ".git/config", "x@v1"]),
)


def _no_traceback(text: str) -> None:
    for word in BAD_WORDS:
        assert word not in text, text[-2000:]


# ---------------------------------------------------------------- YAML


@SETTINGS
@given(yaml_documents())
def test_generated_yaml_loads_to_a_result_or_positioned_problems(text: str) -> None:
    result = load_prompt(text, "prompts/x.yaml")
    assert result.prompt is not None or result.errors
    for problem in result.problems:
        _no_traceback(problem.message)
        assert problem.line >= 0 and problem.col >= 0


@SETTINGS
@given(yaml_documents())
def test_generated_yaml_in_every_other_parser(text: str) -> None:
    _config, problems = parse_config(text)
    for problem in problems:
        _no_traceback(problem.message)
    try:
        load_plain(text)
    except YamlSyntaxError as err:
        _no_traceback(err.message)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        (root / "prompts").mkdir(parents=True)
        (Path(folder) / "outside.yaml").write_text(f"messages: [{{role: user, content: {SECRET}}}]\n")
        yield root


@CLI_SETTINGS
@given(yaml_documents())
def test_generated_yaml_through_validate_list_and_render(scratch: Path, text: str) -> None:
    (scratch / "prompts" / "x.yaml").write_text(text, encoding="utf-8")
    for argv in (["validate"], ["list"], ["list", "--json"], ["render", "x"]):
        with _captured() as out:
            code = run_app(["-C", str(scratch), *argv])
        assert code in (0, 1, 2)
        _no_traceback(out.text)


# ---------------------------------------------------------------- templates


@SETTINGS
@given(templates())
def test_generated_templates_render_or_name_a_limit(template: str) -> None:
    prompt = Prompt(name="t", path="prompts/t.yaml", messages=(Message("user", template),))
    try:
        rendered = render_prompt(prompt, {})
    except RenderError as err:
        _no_traceback(err.message)
        return
    assert rendered.messages is not None and len(rendered.messages[0]["content"]) <= 1_000_000


# ---------------------------------------------------------------- names


@SETTINGS
@given(names)
def test_the_name_rule_is_total(name: str) -> None:
    problem = prompt_name_problem(name)
    if problem is None:
        assert check_prompt_name(name) == name
        assert not name.startswith(("-", "/", ".")) and ".." not in name.split("/") and "\x1b" not in name
    else:
        with pytest.raises(PromptError):
            check_prompt_name(name)


@CLI_SETTINGS
@given(names)
def test_generated_names_through_render(scratch: Path, name: str) -> None:
    with _captured() as out:
        code = run_app(["-C", str(scratch), "render", "--", name])
    assert code in (0, 1, 2)
    _no_traceback(out.text)
    assert SECRET not in out.text and "\x1b" not in out.err


# ---------------------------------------------------------------- the runtime loader


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromptRepo]:
    """A committed repository holding hostile prompt files, and a PromptRepo on it."""
    root = tmp_path_factory.mktemp("served")
    (root / "prompts").mkdir()
    files = {
        "bomb.yaml": "messages: [{role: user, content: hi}]\n" + "".join(
            f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]\n" if i else "l0: &l0 [lol]\n" for i in range(10)
        ),
        "loops.yaml": 'messages:\n  - {role: user, content: "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"}\n',
        "repeat.yaml": "messages:\n  - {role: user, content: \"{{ 'a' * 10**9 }}\"}\n",
        "-x.yaml": "messages: [{role: user, content: hi}]\n",
        "ok.yaml": "inputs: {q: {type: string}}\nmessages: [{role: user, content: '{{ q }}'}]\n",
    }
    for name, text in files.items():
        (root / "prompts" / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "hostile"], cwd=root, check=True)
    with PromptRepo(root) as repo:
        yield repo


@pytest.mark.parametrize("name", ["bomb", "-x", "../ok", "/abs", "missing"])
def test_prompt_repo_refuses_hostile_files_and_names(served: PromptRepo, name: str) -> None:
    with pytest.raises((PromptError, RepoError)) as err:
        served.get(name)
    _no_traceback(str(err.value))


@pytest.mark.parametrize(("name", "limit"), [("loops", "loop-iteration limit"), ("repeat", "output-size limit")])
def test_prompt_repo_render_is_bounded(served: PromptRepo, name: str, limit: str) -> None:
    prompt = served.get(name)
    with pytest.raises(RenderError, match=limit):
        prompt.render()


@SETTINGS
@given(st.text(max_size=200), names)
def test_prompt_repo_with_generated_names_and_values(served: PromptRepo, value: str, name: str) -> None:
    assert served.get("ok").render(q=value)[0]["content"] == value
    try:
        served.get(name)
    except (PromptError, RepoError) as err:
        _no_traceback(str(err))


# ---------------------------------------------------------------- helpers


class _Output:
    def __init__(self) -> None:
        self.out = ""
        self.err = ""

    @property
    def text(self) -> str:
        return self.out + self.err


class _captured:
    """stdout/stderr of one CLI call (hypothesis cannot use the function-scoped capsys)."""

    def __enter__(self) -> _Output:
        import contextlib
        import io

        self._output = _Output()
        self._out, self._err = io.StringIO(), io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self._out))
        self._stack.enter_context(contextlib.redirect_stderr(self._err))
        return self._output

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._output.out, self._output.err = self._out.getvalue(), self._err.getvalue()
