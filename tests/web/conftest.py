"""`workbench serve` on the demo repository, as a real process on a free port of this machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import Served, start_server, stop_server


@pytest.fixture
def served(demo_repo: Path) -> Iterator[Served]:
    server = start_server(demo_repo)
    try:
        yield server
    finally:
        stop_server(server)
