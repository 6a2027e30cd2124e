"""A prompt file that is not UTF-8 text has one verdict, decided in one place: `validate`,
`test` (working copy or a commit), the app's check and the Python API all say the same line.

Before, `validate` said `prompts/bin.yaml:0:0: error: not UTF-8 text`, `test` the decoder's
own words (`cannot read ...: 'utf-8' codec can't decode byte 0xff`), and a committed file,
decoded with replacement characters, was `invalid YAML` in `test --rev`, the app and the API.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workbench.cli.common import run_app
from workbench.errors import PromptError
from workbench.runtime import PromptRepo
from workbench.services import parse_cache
from workbench.services.session import RepoSession

BINARY = b"\xff\xfe\x00bad"  # a UTF-16 byte-order mark, then a NUL: a file from a binary tool
LATE = b"model: {provider: echo}\nmessages:\n  - {role: user, content: caf\xe9}\n"  # Latin-1 on line 3


def _commit(repo: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "a file that is not UTF-8"], cwd=repo, check=True)


@pytest.mark.parametrize(
    ("data", "where"),
    [(BINARY, "prompts/bin.yaml:1:1: error: not UTF-8 text"), (LATE, "prompts/bin.yaml:3:30: error: not UTF-8 text")],
    ids=["binary", "latin-1 on line 3"],
)
def test_every_surface_says_the_same_about_a_file_that_is_not_utf8(prompt_repo: Path, capsys: pytest.CaptureFixture[str], data: bytes, where: str) -> None:
    (prompt_repo / "prompts" / "bin.yaml").write_bytes(data)
    _commit(prompt_repo)

    assert run_app(["-C", str(prompt_repo), "validate", "prompts/bin.yaml"]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith(where) and "byte 0x" in line, line

    for rev in ([], ["--rev", "HEAD"]):  # the working copy and the commit
        assert run_app(["-C", str(prompt_repo), "test", "bin", *rev]) == 2
        said = capsys.readouterr().err
        assert line in said and "codec" not in said and "invalid YAML" not in said, said

    with RepoSession.open(prompt_repo) as ws:  # what the app shows: the verdict of its check
        head = ws.store.resolve("HEAD")
        for rev in (None, head):
            verdict = parse_cache.check_at(ws, "bin", rev)
            assert [p.format() for p in verdict.problems] == [line]

    with PromptRepo(prompt_repo) as prompts, pytest.raises(PromptError) as raised:
        prompts.get("bin")
    assert line in str(raised.value)
