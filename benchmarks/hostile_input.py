"""Hostile input: how fast bombs are refused, and what survives generated hostile input.

1. The 329-byte YAML alias bomb (nine levels of nine aliases: 387,420,489 values once
   expanded): median time for the loader to refuse it, and for `workbench validate` to
   report it (in process, through the CLI entry point).
2. Template bombs: median time for `render_prompt` to refuse each, with the limit named.
3. Generated input (the strategies of tests/hostile): N inputs each of YAML documents,
   templates and names through the loader, the renderer and the name rule; counts of results,
   clear errors and anything else (tracebacks), with the slowest input's time.
4. An ordinary render (support/summarize), to show the bounds cost nothing on the happy path.

Run: python benchmarks/hostile_input.py [N]   (default N = 300)
"""

from __future__ import annotations

import contextlib
import io
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "hostile"))

from workbench.cli.common import run_app  # noqa: E402
from workbench.core.loader import load_prompt  # noqa: E402
from workbench.core.model import Message, Prompt  # noqa: E402
from workbench.core.names import prompt_name_problem  # noqa: E402
from workbench.core.render import render_prompt  # noqa: E402
from workbench.errors import WorkbenchError  # noqa: E402

PROMPT = "messages:\n  - {role: user, content: hi}\n"


def alias_bomb(levels: int = 9) -> str:
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ['a: &a ["lol"]'] + [f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def median_ms(fn: Callable[[], Any], runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


TEMPLATE_BOMBS = {
    "nested for over range(100000)": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ 'a' * 10**8 }}": "{{ 'a' * 10**8 }}",
    "{{ 10 ** (10 ** 10) }}": "{{ 10 ** (10 ** 10) }}",
    "recursive macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "macro calling itself twice, 30 deep (2**31 calls)": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(30) }}",
    "range(100000)|join('x' * 100000)": "{{ range(100000)|join('x' * 100000) }}",
    "'x'.ljust(10**9)": "{{ 'x'.ljust(10**9) }}",
    "doubling a string with ~, 40 times": "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "nesting [x, x], 80 times": "{% set ns = namespace(l=[1]) %}{% for i in range(80) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}",
    "10 KB of text in a 100,000-iteration macro loop": "{% macro m() %}{% for i in range(100000) %}" + "y" * 10_000 + "{% endfor %}{% endmacro %}{{ m() }}",
}


def refuse_template(template: str) -> str:
    prompt = Prompt(name="t", path="prompts/t.yaml", messages=(Message("user", template),))
    try:
        render_prompt(prompt, {})
    except WorkbenchError as err:
        return err.message.split(": ", 2)[-1]
    return "rendered"


def classify(fn: Callable[[], Any]) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        outcome = fn()
    except WorkbenchError:
        outcome = "error"
    except Exception as err:  # anything else is a defect
        outcome = f"DEFECT {type(err).__name__}"
    return str(outcome), (time.perf_counter() - start) * 1000


def generated(n: int) -> None:
    from hypothesis.errors import NonInteractiveExampleWarning
    from test_hostile_inputs import names, templates, yaml_documents

    warnings.simplefilter("ignore", NonInteractiveExampleWarning)

    def load(text: str) -> str:
        result = load_prompt(text, "prompts/x.yaml")
        if any("internal error" in p.message for p in result.problems):
            return "DEFECT internal error"
        return "result" if result.ok else "error"

    def render(template: str) -> str:
        render_prompt(Prompt(name="t", path="prompts/t.yaml", messages=(Message("user", template),)), {})
        return "result"

    def name_rule(name: str) -> str:
        return "result" if prompt_name_problem(name) is None else "error"

    cases: list[tuple[str, Any, Callable[[Any], str]]] = [
        ("YAML documents (aliases, merges, nesting, control characters)", yaml_documents(), load),
        ("templates (loops, repetition, powers, macros, filters)", templates(), render),
        ("names (-, .., /, markup, escapes, @, wildcards)", names, name_rule),
    ]
    print(f"\n{'generated input':<62} {'tried':>6} {'result':>7} {'error':>6} {'defect':>7} {'slowest ms':>11}")
    for label, strategy, fn in cases:
        counts = {"result": 0, "error": 0, "defect": 0}
        slowest = 0.0
        for _ in range(n):
            value = strategy.example()
            outcome, ms = classify(lambda value=value, fn=fn: fn(value))
            slowest = max(slowest, ms)
            counts["defect" if outcome.startswith("DEFECT") else outcome] += 1
        print(f"{label:<62} {n:>6} {counts['result']:>7} {counts['error']:>6} {counts['defect']:>7} {slowest:>11.0f}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    bomb = PROMPT + alias_bomb()
    result = load_prompt(bomb, "prompts/bomb.yaml")
    print(f"YAML alias bomb: {len(alias_bomb())} bytes, 9 levels x 9 aliases = {9**9:,} values once expanded")
    print(f"  refused as: {result.errors[0].format()}")
    print(f"  load_prompt refuses it in      {median_ms(lambda: load_prompt(bomb, 'prompts/bomb.yaml')):8.1f} ms (median of 20)")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "prompts").mkdir()
        (Path(folder) / "prompts" / "bomb.yaml").write_text(bomb)

        def validate() -> None:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                run_app(["-C", folder, "validate"])

        print(f"  `workbench validate` reports it {median_ms(validate, 10):7.1f} ms (median of 10, in process)")

    print(f"\n{'template bomb':<52} {'median ms':>9}  refused as")
    for label, template in TEMPLATE_BOMBS.items():
        message = refuse_template(template)
        print(f"{label:<52} {median_ms(lambda t=template: refuse_template(t), 3):>9.1f}  {message}")

    generated(n)

    sample = load_prompt((ROOT / "prompts/support/summarize.yaml").read_text(), "prompts/support/summarize.yaml").prompt
    assert sample is not None
    variables = dict(sample.tests[0].vars)
    per_render = median_ms(lambda: [render_prompt(sample, variables) for _ in range(100)], 5) / 100
    print(f"\nordinary render (support/summarize): {per_render * 1000:.0f} µs per render (median)")
    print(f"peak RSS of this whole run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")


if __name__ == "__main__":
    main()
