"""The libyaml path of `parse_yaml` gives exactly what the pure-Python path gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.yamlpos import YamlSyntaxError, _parse_slow, parse_yaml

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "workbench" / "samples" / "prompts").rglob("*.yaml"))
EXTRA = [
    "é: ünïcode 日本語\nk: {a: 1, b: [x, 'ü', \"日本\"]}\nz: |\n  block\n  text\n",
    "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n",
    "a: 1\na: 2\n",
    "k: 😀😀 x\nm: [😀, y]\n",
    "a: 'x\n  y'\nb: >\n  folded\n  text\n",
    "a:\r\n  b: 1\r\n",
]
BROKEN = ["a: \x01\n", "a: [1, 2\n", "a:\tb\n", "a: 'open\n"]


def _outcome(text: str, parse: object) -> object:
    try:
        doc = parse(text)  # type: ignore[operator]
    except YamlSyntaxError as err:
        return ("error", err.message, err.line, err.col)
    return (doc.value, doc.positions, doc.key_positions, doc.duplicates)


@pytest.mark.parametrize("text", [p.read_text(encoding="utf-8") for p in SAMPLES] + EXTRA + BROKEN)
def test_same_values_positions_and_errors(text: str) -> None:
    assert _outcome(text, parse_yaml) == _outcome(text, _parse_slow)
