"""The pull-request repository (`ci_repo.build`) and the OpenAI-protocol server the CI tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_repo import build, reply
from fake_openai import FakeOpenAI


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_KEY", "sk-ci-test-secret-0123456789")
    return build(tmp_path / "repo")


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=reply) as fake:
        yield fake
