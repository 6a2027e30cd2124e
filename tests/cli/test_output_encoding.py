"""A standard output that cannot encode every character (a latin-1 or ASCII locale, or
`PYTHONIOENCODING=ascii`) degrades the output; it never fails the command.

`status`, `log`, `history`, `test` and `promote` said "unexpected error: UnicodeEncodeError:
'latin-1' codec can't encode character '\\u26a0'", exit 2, and `promote` only after it had written
its deployment event. The real console script runs in a subprocess, as a terminal starts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git

NAME = "support/summarize"


def workbench(root: Path, *args: str, encoding: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONIOENCODING=encoding)
    return subprocess.run([sys.executable, "-m", "workbench", "-C", str(root), *args], capture_output=True, env=env, timeout=120, check=False)


def events(root: Path) -> list[str]:
    return git(root, "tag", "--list", f"deploy/prod/{NAME}/*").split()


@pytest.mark.parametrize(
    "args", [("status",), ("log", NAME), ("history", NAME), ("timeline",), ("diff", NAME, "HEAD~3", "HEAD"), ("list",), ("monitor", NAME)]
)
def test_reads_print_what_the_stream_can_carry(demo_repo: Path, args: tuple[str, ...]) -> None:
    utf8 = workbench(demo_repo, *args, encoding="utf-8")  # what both narrower streams are compared with
    for encoding in ("ascii", "latin-1"):
        done = workbench(demo_repo, *args, encoding=encoding)
        assert b"unexpected error" not in done.stderr, (encoding, done.stderr.decode())
        assert done.returncode == utf8.returncode, (encoding, done.stderr.decode())
        text = done.stdout.decode(encoding)
        assert len(text.splitlines()) == len(utf8.stdout.decode().splitlines()), encoding  # every line, degraded


def test_symbols_fall_back_to_ascii(demo_repo: Path) -> None:
    utf8 = workbench(demo_repo, "history", NAME, encoding="utf-8").stdout.decode()
    ascii_out = workbench(demo_repo, "history", NAME, encoding="ascii").stdout.decode("ascii")
    assert "→" in utf8 and "promote -> " in ascii_out
    status = workbench(demo_repo, "status", encoding="ascii").stdout.decode("ascii")
    assert "! " in status and "behind" in status  # ⚠ 2 behind staging


def test_promote_under_an_ascii_locale_reports_what_it_wrote(demo_repo: Path) -> None:
    before = events(demo_repo)
    done = workbench(demo_repo, "promote", NAME, "--env", "prod", "-m", "ship v4 ✓", encoding="latin-1")
    assert done.returncode == 0, done.stderr.decode()
    assert len(events(demo_repo)) == len(before) + 1
    assert f"promoted {NAME}".encode() in done.stdout or b"prod" in done.stdout


def test_test_runs_under_an_ascii_locale(demo_repo: Path) -> None:
    utf8 = workbench(demo_repo, "test", NAME, "--provider", "echo", encoding="utf-8")
    done = workbench(demo_repo, "test", NAME, "--provider", "echo", encoding="ascii")
    assert b"unexpected error" not in done.stderr, done.stderr.decode()
    assert done.returncode == utf8.returncode
    assert done.stdout.decode("ascii")


def test_json_stays_whole_json(demo_repo: Path) -> None:
    """JSON is never degraded: what the stream cannot encode is written as a \\u escape."""
    path = demo_repo / "prompts" / f"{NAME}.yaml"
    path.write_text(path.read_text() + "# édition\n", encoding="utf-8")
    git(demo_repo, "commit", "-qam", "Café ✓ 🚀")
    assert workbench(demo_repo, "promote", NAME, "--env", "dev", "-m", "Café ✓ 🚀", encoding="utf-8").returncode == 0
    for args in (("status", "--json"), ("history", NAME, "--json"), ("log", NAME, "--json"), ("diff", NAME, "HEAD~1", "HEAD", "--json")):
        utf8 = workbench(demo_repo, *args, encoding="utf-8")
        done = workbench(demo_repo, *args, encoding="ascii")
        assert done.returncode == utf8.returncode == 0, done.stderr.decode()
        assert not utf8.stdout.isascii() or args[0] == "status"
        assert json.loads(done.stdout.decode("ascii")) == json.loads(utf8.stdout.decode()), args


def test_a_file_name_that_is_not_utf8_on_an_ascii_stream(prompt_repo: Path) -> None:
    (prompt_repo / "prompts" / "caf\udce9.yaml").write_bytes(b"messages: [{role: user, content: hi}]\n")
    for encoding in ("ascii", "ascii:surrogateescape"):
        done = workbench(prompt_repo, "validate", encoding=encoding)
        assert done.returncode == 1 and b"unexpected error" not in done.stderr, done.stderr.decode()
        assert b"prompts/caf?.yaml:1:1: error: invalid prompt name" in done.stdout


def test_what_a_stream_cannot_encode_is_degraded() -> None:
    from workbench.cli.stream_text import encoded

    assert encoded("⚠ 2 behind staging · ✓ 12/12 → v4 ␛[2J │ ─ ┼ 🚀", "ascii", "strict") == b"! 2 behind staging . ok 12/12 -> v4 ^[[2J | - + ?"
    assert encoded("café ⚠", "latin-1", "strict") == "café !".encode("latin-1")
    # a surrogate-escaping stream (a C locale) keeps a file name's byte as that byte
    assert encoded("caf\udce9 ⚠", "ascii", "surrogateescape") == b"caf\xe9 !"
    assert encoded("caf\udce9", "ascii", "strict") == b"caf?"


def _edit_with_symbols(root: Path) -> tuple[Path, bytes]:
    """A committed prompt with non-ASCII text, and an uncommitted edit of it: what the edit holds."""
    path = root / "prompts" / "greeting.yaml"
    path.write_text('inputs: {x: {type: string}}\nmessages:\n  - role: user\n    content: "Hello café ✓ {{ x }}"\n', encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "greeting")
    path.write_text('inputs: {x: {type: string}}\nmessages:\n  - role: user\n    content: "Bonjour → 🚀 café ✓ {{ x }}"\n', encoding="utf-8")
    return path, path.read_bytes()


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "ascii:surrogateescape"])
def test_a_unified_diff_applies_under_any_locale(prompt_repo: Path, tmp_path: Path, encoding: str) -> None:
    """A unified diff is data: written as UTF-8 bytes, as git writes a patch, so that
    `workbench diff --unified > x.patch; git apply x.patch` works whatever the locale.
    It was written `Bonjour -> ? caf? ok`, which `git apply` refused: "patch does not apply"."""
    path, edited = _edit_with_symbols(prompt_repo)
    done = workbench(prompt_repo, "diff", "greeting", "--unified", encoding=encoding)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == workbench(prompt_repo, "diff", "greeting", "--unified", encoding="utf-8").stdout
    patch = tmp_path / "x.patch"
    patch.write_bytes(done.stdout)
    git(prompt_repo, "checkout", "--", "prompts/greeting.yaml")
    git(prompt_repo, "apply", str(patch))
    assert path.read_bytes() == edited


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_rendered_text_piped_is_utf8_under_any_locale(prompt_repo: Path, encoding: str) -> None:
    """`render` piped writes the exact text for other tools: UTF-8 bytes, never degraded."""
    _edit_with_symbols(prompt_repo)
    done = workbench(prompt_repo, "render", "greeting", "--var", "x=naïve ⚠", encoding=encoding)
    assert done.returncode == 0, done.stderr.decode()
    assert "Bonjour → 🚀 café ✓ naïve ⚠".encode() in done.stdout
    assert done.stdout == workbench(prompt_repo, "render", "greeting", "--var", "x=naïve ⚠", encoding="utf-8").stdout
