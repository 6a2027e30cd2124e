"""The runtime loader: deployed versions straight from Git objects, splits, refresh, fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from vcs_helpers import INVALID, SUMMARIZE, commit_all, run_git, write

from workbench.core.split import choose_arm
from workbench.errors import RepoError
from workbench.runtime import PromptRepo
from workbench.services import deployments, releases, sync
from workbench.services.session import RepoSession


def test_get_env_version_rev_and_render_keeps_identity(repo: Path, ws: RepoSession) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="launch")
    releases.tag_release(ws, "support/summarize", "HEAD")
    write(repo, "prompts/support/summarize.yaml", "not even yaml: [")  # the working copy is never read
    with PromptRepo(repo) as prompts:
        prod = prompts.get("support/summarize", env="prod")
        assert prod.version == "support/summarize@v1" and prod.env == "prod" and prod.arm is None
        assert prod.commit == run_git(repo, "rev-parse", "HEAD~2").strip()
        messages = prod.render(ticket="my order is late")
        assert messages[0] == {"role": "system", "content": "You summarise support tickets in a neutral tone."}
        assert messages[1]["content"] == "Ticket: my order is late"
        assert messages.identity == prod.identity
        assert "calm" in prompts.get("support/summarize", version="v2").prompt.source
        assert "friendly" in prompts.get("support/summarize", rev="HEAD~1").prompt.source
        assert prompts.get("support/summarize", version=2).version == "support/summarize@v2"
        with pytest.raises(RepoError, match="not deployed to staging"):
            prompts.get("support/summarize", env="staging")


def test_split_assigns_keys_stably(repo: Path, ws: RepoSession) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="base")
    split = deployments.promote(ws, "support/summarize", "prod", reason="canary", split_percent=30)
    with PromptRepo(repo) as prompts:
        arms = {key: prompts.get("support/summarize", env="prod", key=key).arm for key in map(str, range(400))}
        assert set(arms.values()) == {"stable", "canary"}
        assert 0.2 < sum(a == "canary" for a in arms.values()) / len(arms) < 0.4
        for key, arm in list(arms.items())[:20]:
            assert (arm == "canary") == choose_arm(key, 30, split.tag)
            assert prompts.get("support/summarize", env="prod", key=key).arm == arm
        canary = next(k for k, a in arms.items() if a == "canary")
        assert prompts.get("support/summarize", env="prod", key=canary).version == "support/summarize@v2"
        keyless = [prompts.get("support/summarize", env="prod").arm for _ in range(300)]
        assert {"stable", "canary"} == set(keyless)  # no key: a random arm per call, weighted by the split
        assert 0.15 < keyless.count("canary") / len(keyless) < 0.45


def test_an_int_key_over_4300_digits_gets_its_own_arm(repo: Path, ws: RepoSession) -> None:
    """str() refuses an int over 4,300 digits: get(key=) raised ValueError, and once the prompt had
    been served, the fallback hid it by serving the arm the previous request got."""
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="base")
    split = deployments.promote(ws, "support/summarize", "prod", reason="canary", split_percent=30)
    huge_keys = [10**4300 + i for i in range(40)]
    with PromptRepo(repo) as prompts:  # cold: the first get is a huge key
        arms = {key: prompts.get("support/summarize", env="prod", key=key).arm for key in huge_keys}
        assert set(arms.values()) == {"stable", "canary"}
        for key, arm in arms.items():
            assert arm == ("canary" if choose_arm(key, 30, split.tag) else "stable")
            prompts.get("support/summarize", env="prod", key="someone else")
            assert prompts.get("support/summarize", env="prod", key=key).arm == arm


def test_refresh_from_remote_and_last_good_fallback(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    with RepoSession.open(repo) as ws:
        deployments.promote(ws, "support/summarize", "prod", reason="v1")
        assert sync.push(ws).ok
    server = tmp_path / "server.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(bare), str(server))  # a bare clone: no checkout at all
    with PromptRepo(server) as prompts:
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"
        with RepoSession.open(repo) as ws:
            write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "sunny"))
            commit_all(repo, "Sunny")
            deployments.promote(ws, "support/summarize", "prod", reason="v2")
            assert sync.push(ws).ok
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"  # not refreshed yet
        assert prompts.refresh()
        assert "sunny" in prompts.get("support/summarize", env="prod").prompt.source
        # A deployed file that is broken: keep serving the last good version, log once.
        with RepoSession.open(repo) as ws:
            write(repo, "prompts/support/summarize.yaml", INVALID)
            commit_all(repo, "Broken")
            run_git(repo, "tag", "-a", "-m", "forced", "deploy/prod/support/summarize/29990101000000000-ffffffff")
            assert sync.push(ws).ok
        assert prompts.refresh()
        with caplog.at_level(logging.WARNING, logger="workbench.runtime"):
            for _ in range(3):
                assert "sunny" in prompts.get("support/summarize", env="prod").prompt.source
        assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 1
        # A remote that went away: refresh fails, logs once, serving continues.
        run_git(server, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="workbench.runtime"):
            assert not prompts.refresh()
            assert not prompts.refresh()
        assert len(caplog.records) == 1
        assert "sunny" in prompts.get("support/summarize", env="prod").prompt.source


def test_background_refresh_thread_stops_on_close(repo: Path) -> None:
    prompts = PromptRepo(repo, refresh_s=0.05)
    assert prompts.get("greeting").commit == run_git(repo, "rev-parse", "HEAD").strip()
    prompts.close()
    assert prompts._thread is not None and not prompts._thread.is_alive()


def _kill_cat_file(prompts: PromptRepo) -> None:
    git = prompts._store._git
    for helper in (git.cat_file_header, git.cat_file_all):
        if helper is not None:
            helper.proc.kill()
            helper.proc.wait()


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_a_killed_git_helper_is_restarted(repo: Path, ws: RepoSession, suffix: str) -> None:
    if suffix == ".yml":
        run_git(repo, "mv", "prompts/support/summarize.yaml", "prompts/support/summarize.yml")
        commit_all(repo, "yml")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="launch")
    with PromptRepo(repo) as prompts:
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"
        _kill_cat_file(prompts)
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="next")
        prompts.refresh()
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v2"
        _kill_cat_file(prompts)
        assert prompts.get("support/summarize", rev="HEAD~2").commit == run_git(repo, "rev-parse", "HEAD~2").strip()


def test_a_prompt_once_served_is_served_through_any_failure(repo: Path, ws: RepoSession, monkeypatch: pytest.MonkeyPatch) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="launch")
    with PromptRepo(repo) as prompts:
        served = prompts.get("support/summarize", env="prod")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="next")
        prompts.refresh()

        def broken(*args: object, **kwargs: object) -> None:
            raise OSError("disk on fire")

        for reader in ("read_text", "read_blob"):  # the prompt file is read as bytes, its tests file as text
            monkeypatch.setattr(prompts._store, reader, broken)
        assert prompts.get("support/summarize", env="prod") == served


def test_split_keys_of_any_type_are_sticky(repo: Path, ws: RepoSession) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="base")
    split = deployments.promote(ws, "support/summarize", "prod", reason="canary", split_percent=30)
    with PromptRepo(repo) as prompts:  # cold: the first get is an int key
        for key in (12345, 7, "user-\ud800", 2**80):
            first = prompts.get("support/summarize", env="prod", key=key).arm
            assert first == ("canary" if choose_arm(str(key), 30, split.tag) else "stable")
            for other in "abcdef":  # whatever arm the request before got, this key keeps its own
                prompts.get("support/summarize", env="prod", key=other)
                assert prompts.get("support/summarize", env="prod", key=key).arm == first


def test_refresh_serves_new_deployments_when_part_of_the_fetch_fails(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A branch renamed feature -> feature/a on the remote (a directory/file clash in an old
    clone's remote-tracking refs), and a local tag that differs from the remote's: refresh()
    returned False and never loaded the deployments that arrived, so get(env=) said "not
    deployed" for good."""
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    run_git(repo, "push", "-q", "origin", "main", "main:feature")
    server = tmp_path / "server"
    run_git(tmp_path, "clone", "-q", str(bare), str(server))
    run_git(server, "tag", "-a", "-m", "server's own", "greeting@v1", "HEAD~1")  # differs from the remote's
    run_git(repo, "push", "-q", "origin", ":feature", "main:feature/a")
    with RepoSession.open(repo) as ws:
        deployments.promote(ws, "greeting", "prod", reason="first")
        assert sync.push(ws).ok
    with PromptRepo(server) as prompts, caplog.at_level(logging.WARNING, logger="workbench.runtime"):
        assert not prompts.refresh()  # in part
        assert prompts.get("greeting", env="prod").commit == run_git(repo, "rev-parse", "HEAD").strip()
        assert not [r for r in caplog.records if "cannot lock ref" in r.getMessage()]  # branches are not its concern
        assert any("clobber" in r.getMessage() for r in caplog.records)  # the tag it could not take is said
