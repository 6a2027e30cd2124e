"""Templates cannot run or grow without bound: each hostile template is refused with an error
naming the limit it passed, wherever rendering happens (core, CLI, runner, PromptRepo)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from workbench.cli.common import run_app
from workbench.core.model import InputSpec, Message, Prompt, TestCase
from workbench.core.render import render_prompt
from workbench.core.sandbox import RenderLimits
from workbench.errors import RenderError

LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
LITERAL = "y" * 10_000

HOSTILE = {
    "nested loops": (LOOP, "loop-iteration limit"),
    "string repetition": ("{{ 'a' * 10**8 }}", "output-size limit"),
    "list repetition": ("{{ ([1] * 10**8)|length }}", "output-size limit"),
    "huge power": ("{{ 10 ** (10 ** 10) }}", "number-size limit"),
    "squaring in a loop": ("{% set ns = namespace(x=10**100) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x }}", "number-size limit"),
    "recursive macro": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "call-depth limit"),
    "exponential macro": ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}", "limit"),
    "recursive loop": ("{% for x in [1] recursive %}{{ loop(range(100000)) }}{% endfor %}", "limit"),
    "huge join": ("{{ range(100000)|join('x' * 100000) }}", "output-size limit"),
    "center filter": ("{{ 'x'|center(10**9) }}", "output-size limit"),
    "center constant": ("{{ 'x'|center(1000000000) }}", "output-size limit"),
    "str.ljust": ("{{ 'x'.ljust(10**9) }}", "output-size limit"),
    "str.center": ("{{ 'x'.center(10**9) }}", "output-size limit"),
    "str.zfill": ("{{ '1'.zfill(10**9) }}", "output-size limit"),
    "str.expandtabs": ("{{ 'a\\tb'.expandtabs(10**9) }}", "output-size limit"),
    "str.replace": ("{{ ('a' * 3000).replace('', 'b' * 3000) }}", "output-size limit"),
    "str.join": ("{{ ('x' * 100000).join(range(100000)|map('string')) }}", "output-size limit"),
    "percent width": ("{{ '%1000000000s' % 'a' }}", "output-size limit"),
    "percent star": ("{{ '%*s'|format(10**9, 'a') }}", "output-size limit"),
    "str.format width": ("{{ '{:>1000000000}'.format('a') }}", "output-size limit"),
    "str.format computed width": ("{{ '{:>{w}}'.format('a', w=10**9) }}", "not allowed"),
    "int.to_bytes": ("{{ (1).to_bytes(10**9, 'big') }}", "output-size limit"),
    "indent filter": ("{{ 'a\\nb'|indent(10**9) }}", "output-size limit"),
    "replace filter": ("{{ ('a' * 3000)|replace('', 'b' * 3000) }}", "output-size limit"),
    "wordwrap filter": ("{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 100000) }}", "output-size limit"),
    "batch filter": ("{{ [1]|batch(10**9, 0)|list }}", "output-size limit"),
    "slice filter": ("{{ [1]|slice(10**8)|list|length }}", "output-size limit"),
    "tojson indent": ("{{ [[[[1]]]]|tojson(indent=10**8) }}", "output-size limit"),
    "lipsum": ("{{ lipsum(10**6) }}", "output-size limit"),
    "doubling with ~": ("{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}", "output-size limit"),
    "doubling with +": ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}", "limit"),
    "nested literals": ("{% set ns = namespace(l=[1]) %}{% for i in range(80) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l == [] }}", "output-size limit"),
    "literal text in a macro loop": ("{% macro m() %}{% for i in range(100000) %}" + LITERAL + "{% endfor %}{% endmacro %}{{ m()|length }}", "output-size limit"),
    "set block": ("{% set s %}{% for i in range(100000) %}" + LITERAL + "{% endfor %}{% endset %}{{ s|length }}", "output-size limit"),
    "list mutation": ("{% set l = [] %}{% for i in range(10) %}{{ l.append(l) }}{% endfor %}", "unsafe"),
    "dict.fromkeys": ("{{ {}.fromkeys(range(100000), 'x' * 100000)|length }}", "output-size limit"),
}


def _prompt(content: str, *, inputs: tuple[InputSpec, ...] = ()) -> Prompt:
    return Prompt(name="p", path="prompts/p.yaml", messages=(Message("user", content),), inputs=inputs)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_templates_are_refused_naming_the_limit(case: str) -> None:
    template, limit = HOSTILE[case]
    with pytest.raises(RenderError) as err:
        render_prompt(_prompt(template), {})
    assert limit in err.value.message and err.value.message.startswith("p: message 1 (user): ")


def test_the_render_time_limit() -> None:
    with pytest.raises(RenderError, match=r"took more than 0 s \(the render-time limit\)"):
        render_prompt(_prompt("{% for i in range(10) %}{{ i }}{% endfor %}"), {}, limits=RenderLimits(max_seconds=0))


def test_the_limits_cover_all_messages_together() -> None:
    prompt = Prompt(name="p", path="prompts/p.yaml", messages=tuple(Message("user", "{{ 'a' * 600000 }}") for _ in range(2)))
    with pytest.raises(RenderError, match=r"message 2 .* output-size limit"):
        render_prompt(prompt, {})


def test_ordinary_templates_still_render() -> None:
    template = (
        "{% macro item(d) %}- {{ d.title|title }}: {{ d.body|truncate(20) }}{% endmacro %}"
        "{% for d in docs %}{{ loop.index }}{{ item(d) }}\n{% endfor %}"
        "{{ docs|map(attribute='title')|join(', ') }} {{ '%05d'|format(42) }} {{ '{:>6}'.format('x') }}"
        "{% set a, b = (1, 2) %}{{ a + b }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ {'k': [1, 2]}|tojson }} {{ 'x'|center(9) }}|"
    )
    docs = [{"title": f"doc {i}", "body": "lorem ipsum " * 5} for i in range(300)]
    rendered = render_prompt(_prompt(template, inputs=(InputSpec("docs", "array"),)), {"docs": docs})
    # Exactly what plain Jinja (its own sandbox, no limits) makes of the same template.
    plain = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True).from_string(template).render(docs=docs)
    assert rendered.messages == [{"role": "user", "content": plain}]
    assert "300- Doc 299: lorem ipsum..." in plain and "00042      x3 1024 ababab" in plain


def test_long_variables_are_allowed_on_top_of_the_limit() -> None:
    document = "word " * 400_000  # 2,000,000 characters, twice the base limit
    rendered = render_prompt(_prompt("Summarise:\n{{ doc }}", inputs=(InputSpec("doc", "string"),)), {"doc": document})
    assert rendered.messages and len(rendered.messages[0]["content"]) > 2_000_000
    with pytest.raises(RenderError, match="output-size limit"):
        render_prompt(_prompt("{% for i in range(10) %}{{ doc }}{% endfor %}", inputs=(InputSpec("doc", "string"),)), {"doc": document})


def test_cli_render_names_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "bomb.yaml").write_text("messages:\n  - role: user\n    content: \"" + LOOP + "\"\n")
    assert run_app(["-C", str(tmp_path), "render", "bomb"]) == 2
    err = capsys.readouterr().err
    assert "loop-iteration limit" in err and "Traceback" not in err


def test_a_test_case_with_a_hostile_template_errors_instead_of_hanging(tmp_path: Path) -> None:
    import asyncio

    from workbench.evals.providers import EchoProvider
    from workbench.evals.runner import RunOptions, SuiteRun

    prompt = Prompt(name="p", path="prompts/p.yaml", messages=(Message("user", "{{ 'a' * 10**9 }}"),), tests=(TestCase("one"),))
    run = SuiteRun(prompt, EchoProvider(), prompt.tests, RunOptions())
    (result,) = asyncio.run(run.run())
    assert result.passed is None and result.error and "output-size limit" in result.error
