"""`workbench serve` on the demo repository, as a real process on a free port of this machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import Served, start_server, stop_server

from workbench.cli.common import run_app


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    assert run_app(["demo", str(root), "--no-open"]) == 0
    return root


@pytest.fixture
def served(demo_repo: Path) -> Iterator[Served]:
    server = start_server(demo_repo)
    try:
        yield server
    finally:
        stop_server(server)
