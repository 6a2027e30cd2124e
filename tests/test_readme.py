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
