"""Push and fetch through a remote URL with a password (`http://user:password@host/...`), against
a real smart-HTTP Git server (`git http-backend`, tests/vcs/git_http.py).

The password (as written, URL-encoded, or inside a Basic header) never reaches what is printed,
the exceptions, the app, the runtime's log, the git notes or anything else stored under `.git`
(bar `.git/config`, where the user put it). A failed push or fetch is one clear line: what
failed, git's reason, and what the server said. Before, git's lines were passed on as they
came: a server that repeats the request's credentials in its error (`remote: ...`) put the
password in the exception, and in the app, which does not scrub.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from git_http import GitHttpServer
from terminal_helpers import python_on_a_terminal
from vcs_helpers import GREETING, commit_all, run_git, write

from workbench.cli import run_app
from workbench.errors import RepoError
from workbench.runtime import PromptRepo
from workbench.services import deployments, releases, revisions, sync, test_results
from workbench.services.session import RepoSession

USER = "ana"
PASSWORD = "Pa55/w0rd-7q9-zeta"  # a "/" so that its URL-encoded form differs


def forms() -> list[str]:
    """The password as it may be written: as is, URL-encoded, and in a Basic header."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [PASSWORD, quote(PASSWORD, safe=""), basic]


def leaks(text: str) -> list[str]:
    """Every 10-character piece of any form of the password found in `text`."""
    return sorted({form[i : i + 10] for form in forms() for i in range(len(form) - 9) if form[i : i + 10] in text})


def stored(root: Path) -> str:
    """Everything git keeps (objects, notes, refs, reflogs, FETCH_HEAD...) but `.git/config`."""
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root, capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")
    files = [p for p in (root / ".git").rglob("*") if p.is_file() and p.name != "config" and "objects" not in p.parts]
    return objects + "".join(p.read_bytes().decode("utf-8", "replace") for p in files)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    served = tmp_path / "srv"
    served.mkdir()
    run_git(served, "init", "-q", "--bare", "-b", "main", "origin.git")
    with GitHttpServer(served, USER, PASSWORD) as git_server:
        yield git_server


@pytest.fixture
def remote(repo: Path, server: GitHttpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`repo` whose origin is the server, with the password in the URL."""
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")  # a refused password must not wait for a terminal
    run_git(repo, "remote", "add", "origin", server.url("origin.git"))
    return repo


def test_push_and_fetch_leave_no_trace_of_the_password(remote: Path, server: GitHttpServer, tmp_path: Path) -> None:
    with RepoSession.open(remote) as ws:
        releases.tag_release(ws, "greeting")
        deployments.promote(ws, "greeting", "prod", reason="launch")
        test_results.record_note(ws, revisions.resolve(ws, "HEAD"), "tests: ✓ 3/3")
        pushed = sync.push(ws)
        assert pushed.ok, pushed.details
        fetched = sync.fetch(ws)
        assert fetched.ok
    # Another clone pushes first: ours is rejected, and explained.
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", server.url("origin.git"), str(other), env={"GIT_TERMINAL_PROMPT": "0"})
    write(other, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    commit_all(other, "Theirs")
    run_git(other, "push", "-q", "origin", "main", env={"GIT_TERMINAL_PROMPT": "0"})
    write(remote, "prompts/greeting.yaml", GREETING.replace("hello", "hey"))
    commit_all(remote, "Ours")
    with RepoSession.open(remote) as ws:
        rejected = sync.push(ws)
        assert not rejected.ok and rejected.details
    said = "\n".join(str(r.to_dict()) for r in (pushed, fetched, rejected))
    assert leaks(said) == [] and leaks(stored(remote)) == [] and leaks(stored(other)) == []
    notes = run_git(remote, "notes", "--ref=workbench", "show", "HEAD~1")
    assert notes == "tests: ✓ 3/3\n"


@pytest.mark.parametrize("mode", ["deny", "500"])
@pytest.mark.parametrize("verb", ["push", "fetch"])
def test_a_failure_is_one_clear_line_without_the_password(remote: Path, server: GitHttpServer, mode: str, verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    server.mode = mode
    reason = "Authentication failed" if mode == "deny" else "The requested URL returned error: 500"
    with RepoSession.open(remote) as ws, pytest.raises(RepoError) as caught:
        getattr(sync, verb)(ws)
    error = caught.value
    assert error.message.startswith(f"{verb} {'to' if verb == 'push' else 'from'} origin failed: ")
    assert "\n" not in error.message and reason in error.message, error.message
    assert "the remote said: refused" in error.message  # the server's own words, kept (its secrets out)
    assert leaks(str(error)) == [] and leaks(repr(error.args)) == []
    code = run_app(["-C", str(remote), verb])
    out, err = capsys.readouterr()
    assert code == 2 and reason in err and leaks(out + err) == [], err
    assert len(err.strip().splitlines()) == 2  # the line, and its hint


def test_the_runtime_never_logs_the_password(remote: Path, server: GitHttpServer, caplog: pytest.LogCaptureFixture) -> None:
    server.mode = "500"
    with PromptRepo(remote) as prompts, caplog.at_level(logging.WARNING, logger="workbench.runtime"):
        assert prompts.refresh() is False
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "returned error: 500" in logged and leaks(logged) == [], logged


def _push_on_a_terminal(repo: Path, *, prompts: bool) -> tuple[bool, str]:
    """Push from a child process whose controlling terminal is a pty (as the app's is): git asks
    for a password on /dev/tty when it may. (finished, what reached the terminal); a prompt
    seen ends the wait (the child is stopped: it would wait for ever)."""
    code = (
        "from workbench.services import sync\n"
        "from workbench.services.session import RepoSession\n"
        f"with RepoSession.open({str(repo)!r}) as ws:\n"
        f"    ws.store.terminal_prompts = {prompts!r}\n"
        "    try:\n"
        "        print('pushed', sync.push(ws).ok, flush=True)\n"
        "    except Exception as err:\n"
        "        print('failed:', err, flush=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GIT_TERMINAL_PROMPT"}
    terminal = python_on_a_terminal(code, env, stop_at="Username for" if prompts else None)
    return terminal.finished, terminal.seen


def test_a_push_that_needs_a_password_fails_instead_of_asking_on_the_apps_terminal(repo: Path, server: GitHttpServer) -> None:
    """The app draws on the terminal: a git password prompt there would wait, unseen, under the
    session lock. Its sessions refuse terminal prompts; a CLI user's git still asks."""
    without_credentials = "http://" + server.url("origin.git").split("@", 1)[1]
    run_git(repo, "remote", "add", "origin", without_credentials)
    asked = _push_on_a_terminal(repo, prompts=True)
    assert "Username for" in asked[1] or "Password for" in asked[1], asked  # git does ask, where it may
    finished, seen = _push_on_a_terminal(repo, prompts=False)
    assert finished and "failed: push to origin failed" in seen and "terminal prompts disabled" in seen, seen
