"""The README's examples are real: the prompt in the format section validates as it stands."""

from __future__ import annotations

import re
from pathlib import Path

from workbench.core.loader import load_prompt

README = Path(__file__).resolve().parent.parent / "README.md"


def _format_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:format -->") :]
    match = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert match, "the format section has a YAML example"
    return match.group(1)


def test_the_format_example_validates() -> None:
    example = _format_example()
    files = {"prompts/support/more-cases.tests.yaml": "- description: extra case\n  vars: {ticket: hi}\n"}
    result = load_prompt(example, "prompts/support/summarize.yaml", read_file=lambda path: files[path])
    assert result.ok, "\n".join(p.format() for p in result.errors)


def _ci_examples() -> list[object]:
    import yaml

    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:ci -->") : text.index("<!-- /section:ci -->")]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]


def _walk(node: object) -> list[object]:
    found = [node]
    for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else []:
        found += _walk(child)
    return found


def test_the_ci_examples_use_real_inputs_and_options() -> None:
    """The CI section's YAML parses; the action step uses inputs action.yml declares; every
    `workbench ...` command line names a real command and real options."""
    import shlex

    import typer
    import yaml

    from workbench.cli import app

    examples = _ci_examples()
    assert len(examples) == 3  # the action, GitLab, after the merge (the audit job is linked)
    action = yaml.safe_load((README.parent / "action.yml").read_text(encoding="utf-8"))
    nodes = [n for example in examples for n in _walk(example)]
    uses = [n for n in nodes if isinstance(n, dict) and str(n.get("uses", "")).startswith("OWNER/prompt-workbench@")]
    assert uses and all(set(n.get("with", {})) <= set(action["inputs"]) for n in uses)
    lines = [line.strip() for n in nodes if isinstance(n, str) for line in n.splitlines() if line.strip().startswith("workbench ")]
    assert {" ".join(line.split()[:3]) for line in lines} >= {"workbench ci check", "workbench ci promote"}
    root = typer.main.get_command(app)
    for line in lines:
        words = shlex.split(line.split("#")[0])[1:]
        command = root
        while hasattr(command, "get_command") and words and not words[0].startswith("-"):  # a group (Typer's own click)
            sub = command.get_command(None, words.pop(0))
            assert sub is not None, line
            command = sub
        known = {opt for param in command.params for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])}
        assert {w for w in words if w.startswith("-")} <= known, line
