"""`--since` periods: the grammar and its bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli.common import run_app
from workbench.core.periods import MAX_SINCE_DAYS, parse_since


def test_parse_since_units() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("1w", now=1e9) == 1e9 - 604800
    assert parse_since(None) is None


@pytest.mark.parametrize("text", ["9999999999999999999999h", "9" * 400 + "d", "5300w", "100000000m"])
def test_a_period_past_the_bound_is_refused_naming_the_range(text: str) -> None:
    # An unbounded period overflowed SQLite's INTEGER (OverflowError, "unexpected error").
    with pytest.raises(ValueError, match="at most 36525d"):
        parse_since(text)


def test_the_bound_itself_is_accepted() -> None:
    assert parse_since(f"{MAX_SINCE_DAYS}d", now=1e10) == 1e10 - MAX_SINCE_DAYS * 86400


@pytest.mark.parametrize("command", [["monitor", "support/summarize"], ["timeline"]])
def test_every_since_option_gives_a_usage_error(prompt_repo: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["-C", str(prompt_repo), *command, "--since", "9999999999999999999999h"]) == 2
    assert "at most 36525d" in capsys.readouterr().err
    assert run_app(["-C", str(prompt_repo), *command, "--since", "100w"]) == 0
