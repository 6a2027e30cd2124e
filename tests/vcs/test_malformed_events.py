"""A deployment tag whose message holds a value of the wrong shape (hand-written, or pushed by
another tool) is one event with a problem, named by its tag: it never stops the runtime, `status`
or `timeline` for the other prompts, and the fields that are fine are still read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.cli import run_app
from workbench.core.versions import parse_event_message
from workbench.errors import NotFound
from workbench.runtime import PromptRepo
from workbench.services import approvals, deployments
from workbench.services.deployment_events import deployments as deployments_of_prompt
from workbench.services.releases import tag_release
from workbench.services.session import RepoSession

BAD_TAG = "deploy/prod/greeting/20991231000000000-deadbeef"


def _bad_event(repo: Path, canary: str, **fields: str) -> str:
    commit = run_git(repo, "rev-parse", "HEAD").strip()
    lines = {
        "prompt": '"greeting"', "env": '"prod"', "action": '"split"', "commit": json.dumps(commit), "canary": canary, **fields,
    }
    message = "split\n\n" + "\n".join(f"{key}: {value}" for key, value in lines.items()) + "\n"
    run_git(repo, "tag", "-a", BAD_TAG, "-m", message, commit)
    return commit


@pytest.mark.parametrize(
    "canary",
    ['{"version": null, "commit": "cccccccccccccccccccccccccccccccccccccccc", "percent": "ten"}', '{"version": null, "commit": "cccccccccccccccccccccccccccccccccccccccc", "percent": [10]}',
     '{"version": null, "commit": "cccccccccccccccccccccccccccccccccccccccc", "percent": NaN}', '{"version": [1], "commit": "cccccccccccccccccccccccccccccccccccccccc", "percent": 10}',
     '{"version": null, "commit": {"a": 1}, "percent": 10}', '[1, 2]', '"half"',
     '{"version": null, "commit": "cccccccccccccccccccccccccccccccccccccccc", "percent": 1' + "0" * 400 + '}'],
)
def test_a_malformed_canary_is_a_problem_of_its_event_only(canary: str) -> None:
    message = f'split\n\nprompt: "p"\nenv: "prod"\naction: "split"\ncanary: {canary}\n'
    event = parse_event_message("deploy/prod/p/20991231000000000-deadbeef", "c" * 40, message)
    assert event is not None and event.canary is None and event.commit == "c" * 40
    assert "canary" in event.problem


def test_every_field_of_the_wrong_shape_is_named_and_left_out() -> None:
    message = (
        'promote\n\naction: ["promote"]\nversion: {"v": 1}\nprevious_version: [2]\nprevious_commit: {}\n'
        'reason: [1]\nwho: {"x": 1}\nwhen: [0]\ntests: {}\ncanary: null\noverride: "not a list"\n'
    )
    event = parse_event_message("deploy/prod/p/20991231000000000-deadbeef", "c" * 40, message)
    assert event is not None
    assert (event.action, event.version, event.previous_version, event.previous_commit) == ("promote", None, None, None)
    assert (event.reason, event.who, event.when, event.tests, event.override) == ("", "", "", None, ())
    for name in ("action", "version", "previous_version", "previous_commit", "reason", "who", "when", "tests", "override"):
        assert name in event.problem
    # A well-formed event has none; plain numbers a hand-writer typed are read as text.
    fine = parse_event_message("deploy/prod/p/20991231000000000-deadbeef", "c" * 40, 'x\n\nreason: 42\ncanary: {"version": null, "commit": "' + 'd' * 40 + '", "percent": 10}\n')
    assert fine is not None and fine.problem == "" and fine.reason == "42" and fine.canary is not None and fine.canary.percent == 10


@pytest.mark.parametrize("digits", [400, 5000])
def test_a_number_too_big_for_a_float_is_left_out_not_raised(digits: int) -> None:
    """`reason: 1000…0` (401 digits) raised OverflowError from math.isfinite: status crashed and
    PromptRepo() raised, the failure the malformed-event rule exists to prevent."""
    message = f'promote\n\nreason: 1{"0" * digits}\n'
    event = parse_event_message("deploy/prod/p/20991231000000000-deadbeef", "c" * 40, message)
    assert event is not None and event.reason in ("", "1" + "0" * digits)


def test_runtime_status_and_timeline_go_on_past_a_malformed_event(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="launch")
    with PromptRepo(repo) as prompts:
        commit = _bad_event(repo, '{"version": null, "commit": "cccccccccccccccccccccccccccccccccccccccc", "percent": "ten"}')
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="ship")
        with caplog.at_level(logging.WARNING, logger="workbench.runtime"):
            assert prompts.refresh()  # a new deployment is seen beside the bad event
        assert prompts.get("support/summarize", env="prod").commit == run_git(repo, "rev-parse", "HEAD").strip()
        assert any(BAD_TAG in r.getMessage() and "canary" in r.getMessage() for r in caplog.records)
    with PromptRepo(repo) as prompts:  # a cold start too: the event serves its stable commit, no split
        greeting = prompts.get("greeting", env="prod", key="u1")
        assert (greeting.commit, greeting.arm) == (commit, None)

    assert run_app(["-C", str(repo), "status"]) == 0
    out = capsys.readouterr().out
    assert BAD_TAG in out and "percent" in out and "support/summarize" in out
    assert run_app(["-C", str(repo), "status", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)["prompts"]
    assert "percent" in next(p for p in cells if p["name"] == "greeting")["environments"]["prod"]["problem"]
    assert run_app(["-C", str(repo), "timeline"]) == 0
    out = capsys.readouterr().out
    assert BAD_TAG in out and "ship" in out

    # Promoting over it: the malformed event is what prod ran before (its commit), and the new one is whole.
    event = deployments.promote(ws, "greeting", "prod", rev="HEAD~1", reason="over the bad event")
    assert event.previous_commit == commit and event.problem == "" and event.canary is None


@pytest.mark.parametrize("commit", ["main", "HEAD", "d" * 39, "D" * 40, "d" * 41, "d" * 63, "HEAD~1" + "0" * 34])
def test_a_canary_commit_that_is_not_a_full_object_id_is_malformed(commit: str) -> None:
    """`"commit": "main"` was accepted: the runtime served the branch's unreleased work to every key."""
    message = f'split\n\naction: "split"\ncanary: {{"version": "p@v9", "commit": "{commit}", "percent": 100}}\n'
    event = parse_event_message("deploy/prod/p/20991231000000000-deadbeef", "c" * 40, message)
    assert event is not None and event.canary is None and "canary.commit" in event.problem
    for full in ("d" * 40, "d" * 64):  # SHA-1 and SHA-256 repositories
        whole = parse_event_message("deploy/prod/p/20991231000000000-deadbeef", "c" * 40, message.replace(commit, full))
        assert whole is not None and whole.canary is not None and whole.problem == ""


def _wip_on_main(repo: Path) -> None:
    path = repo / "prompts" / "greeting.yaml"
    path.write_text(path.read_text().replace("Say hello", "UNREVIEWED WORK IN PROGRESS"))
    run_git(repo, "commit", "-qam", "wip, not released")


@pytest.mark.parametrize("target", ["main", "blob", "tree", "gone", "other-release"])
def test_a_canary_that_names_no_commit_of_a_release_is_never_served(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """A hand-made split to `main`, a blob, a tree or an id the repository lacks: the runtime
    serves the stable commit to every key, and status, the runtime and audit name the problem."""
    ids = {
        "main": "main", "blob": run_git(repo, "rev-parse", "HEAD:prompts/greeting.yaml").strip(),
        "tree": run_git(repo, "rev-parse", "HEAD^{tree}").strip(), "gone": "e" * 40,
    }
    canary_commit = ids.get(target, run_git(repo, "rev-parse", "HEAD").strip())
    version = "support/summarize@v1" if target == "other-release" else "greeting@v9"
    commit = _bad_event(repo, json.dumps({"version": version, "commit": canary_commit, "percent": 100}))
    _wip_on_main(repo)
    with PromptRepo(repo) as prompts:
        for key in ("a", "b", "c"):
            served = prompts.get("greeting", env="prod", key=key)
            assert served.commit == commit and "UNREVIEWED" not in str(served.prompt.messages)
            assert served.version != "support/summarize@v1" and served.arm is None
    assert run_app(["-C", str(repo), "status", "--json"]) == 0
    cell = next(p for p in json.loads(capsys.readouterr().out)["prompts"] if p["name"] == "greeting")["environments"]["prod"]
    assert "canary" in (cell["problem"] or "") and cell["canary"] is None
    assert run_app(["-C", str(repo), "audit"]) == 0  # prod is unguarded here: shown as a PROBLEM
    out = capsys.readouterr().out
    assert f"PROBLEM {BAD_TAG}" in out and "canary." in out
    # Promoting over it works: what prod ran before is the event's stable commit.
    event = deployments.promote(ws, "greeting", "prod", rev="HEAD", reason="over it")
    assert event.previous_commit == commit and event.canary is None


def _split_by_hand(repo: Path, *, stable: str, canary: str) -> None:
    """A split tag written by hand: every key to `canary`, labelled with a release that does not exist."""
    message = "\n".join(['action: "split"', f'commit: "{stable}"', "canary: " + json.dumps({"version": "greeting@v9", "commit": canary, "percent": 100})])
    run_git(repo, "tag", "-a", BAD_TAG, "-m", "split\n\n" + message + "\n", stable)


def test_a_canary_is_served_only_as_a_release_of_its_prompt(repo: Path, ws: RepoSession) -> None:
    """The full id of an unreleased commit was served as the canary under whatever label the
    message gave; a released one is labelled from its release tag, not from the message."""
    released = deployments.promote(ws, "greeting", "dev", reason="release it").commit  # greeting@v1
    _wip_on_main(repo)
    wip = run_git(repo, "rev-parse", "HEAD").strip()
    _split_by_hand(repo, stable=released, canary=wip)
    with PromptRepo(repo) as prompts:
        served = prompts.get("greeting", env="prod", key="a")
        assert (served.commit, served.arm) == (released, None)
        event = prompts.deployed("greeting", "prod")
        assert event is not None and "no release of greeting" in event.problem
    run_git(repo, "tag", "-d", BAD_TAG)
    _split_by_hand(repo, stable=wip, canary=released)
    with PromptRepo(repo) as prompts:
        served = prompts.get("greeting", env="prod", key="a")
        assert (served.commit, served.arm, served.version) == (released, "canary", "greeting@v1")


@pytest.mark.parametrize("target", ["HEAD:prompts/support/summarize.yaml", "HEAD^{tree}"])
def test_a_deploy_tag_on_a_blob_or_tree_is_skipped_not_served(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """A well-formed message on a tag pointing at a blob was shown by status as v2, made
    `get(env=)` raise "does not exist" and blocked every promote and rollback ("names a blob,
    not a commit") until the tag was deleted by hand. Now it is a problem, and prod runs what
    the event before it says."""
    first = deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="v1").commit
    second = deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="v2").commit
    bad = "deploy/prod/support/summarize/20991231000000000-bbbbbbbb"
    message = "promote\n\n" + "\n".join([
        'prompt: "support/summarize"', 'env: "prod"', 'action: "promote"', 'version: "support/summarize@v9"', 'reason: "blob"',
    ]) + "\n"
    run_git(repo, "tag", "-a", bad, "-m", message, run_git(repo, "rev-parse", target).strip())
    with PromptRepo(repo) as prompts:
        assert prompts.get("support/summarize", env="prod").commit == second
    _skipped_in_status_and_audit(repo, capsys, bad, second, "not a commit")
    with RepoSession.open(repo) as fresh:
        rolled = deployments.rollback(fresh, "support/summarize", "prod", reason="back")
        assert (rolled.commit, rolled.previous_commit) == (first, second)
        again = deployments.promote(fresh, "support/summarize", "prod", rev="HEAD", reason="forward")
        assert again.previous_commit == first and again.problem == ""


@pytest.mark.parametrize("stamp", ["99999999999999999", "20261341000000000", "99991231235959999"])
def test_a_sequence_that_carries_no_real_time_is_skipped_not_served(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str], stamp: str
) -> None:
    """`deploy/.../99999999999999999-…` (or a 13th month, or the last millisecond of year 9999,
    after which no event can be made) made every promote, rollback and approve of the prompt
    crash ("unconverted data remains", OverflowError), while status and the runtime served the
    tag's commit. Now it is a malformed event, skipped as prod's state, and new events are made
    after the last valid one."""
    first = deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="v1").commit
    head = run_git(repo, "rev-parse", "HEAD").strip()
    bad = f"deploy/prod/support/summarize/{stamp}-ffffffff"
    run_git(repo, "tag", bad, head)
    run_git(repo, "tag", f"approve/prod/support/summarize/{stamp}-ffffffff", head)
    with PromptRepo(repo) as prompts:
        assert prompts.get("support/summarize", env="prod").commit == first
    _skipped_in_status_and_audit(repo, capsys, bad, first, "carries no real time")
    with RepoSession.open(repo) as fresh:
        second = deployments.promote(fresh, "support/summarize", "prod", rev="HEAD~1", reason="fix")
        assert second.previous_commit == first
        rolled = deployments.rollback(fresh, "support/summarize", "prod", reason="back")
        assert (rolled.commit, rolled.previous_commit) == (first, second.commit)
        assert approvals.approve(fresh, "support/summarize", "prod", rev="HEAD", reason="ok").seq < bad.rsplit("/", 1)[1]
        # An approval with no time was never tagged "before" anything: it counts for no promotion.
        assert all(a.seq[:17] != stamp for a in approvals.approvals(fresh, "prod", "support/summarize"))


@pytest.mark.parametrize("kind", ["blob", "no real time"])
def test_an_environment_whose_only_event_is_skipped_runs_nothing_everywhere(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """Nothing valid was ever deployed to staging, only a malformed tag: the runtime, rollback and
    export said "not deployed", while `status` (and the app's badges, status bar and choices,
    built from it) showed the tag as what staging ran: `deployed: true`, v9, a blob's id."""
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="v1")
    if kind == "blob":
        bad = "deploy/staging/support/summarize/20261201000000000-bbbbbbbb"
        target = run_git(repo, "rev-parse", "HEAD:prompts/support/summarize.yaml").strip()
    else:
        bad = "deploy/staging/support/summarize/99999999999999999-bbbbbbbb"
        target = run_git(repo, "rev-parse", "HEAD").strip()
    message = 'promote\n\nprompt: "support/summarize"\nenv: "staging"\naction: "promote"\nversion: "support/summarize@v9"\nreason: "x"\n'
    run_git(repo, "tag", "-a", bad, "-m", message, target)
    with PromptRepo(repo) as prompts, pytest.raises(NotFound):
        prompts.get("support/summarize", env="staging")
    assert run_app(["-C", str(repo), "rollback", "support/summarize", "--env", "staging", "-m", "x"]) == 2
    assert "not deployed to staging" in capsys.readouterr().err
    for cold in (True, False):
        assert run_app(["-C", str(repo), "status", "--json"]) == 0
        row = next(p for p in json.loads(capsys.readouterr().out)["prompts"] if p["name"] == "support/summarize")
        cell = row["environments"]["staging"]
        assert (cell["deployed"], cell["version"], cell["commit"]) == (False, None, None), cold
        assert bad in cell["problem"], cold
        assert row["environments"]["prod"]["deployed"] and row["environments"]["prod"]["lag"] is None
    assert run_app(["-C", str(repo), "status"]) == 0
    out = capsys.readouterr().out
    assert "⚠ malformed event" in out and bad in out and "v9" not in out


def test_an_event_is_labelled_from_its_target_not_from_its_message(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A valid v2 message copied onto a tag pointing at v3's commit: status and the runtime said
    v3, but history, audit and export's manifest said v2 beside v3's file, with no problem. One
    rule now labels every reader (the release tags of the tag's commit), and the message's
    disagreeing version is the event's problem. A release renumbered after the event (fetch) is not."""
    for rev in ("HEAD~2", "HEAD~1", "HEAD"):
        tag_release(ws, "support/summarize", rev)
    written = deployments.promote(ws, "support/summarize", "prod", rev="support/summarize@v2", reason="v2")
    found = ws.store.read_tag(written.tag)
    assert found is not None
    v3 = run_git(repo, "rev-parse", "support/summarize@v3^{commit}").strip()
    copied = "deploy/prod/support/summarize/20991231000000000-cccccccc"
    run_git(repo, "tag", "-a", copied, "-F", "-", v3, stdin=found.message)
    with PromptRepo(repo) as prompts:
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v3"
    assert run_app(["-C", str(repo), "history", "support/summarize", "--json"]) == 0
    event = next(e for e in json.loads(capsys.readouterr().out) if e["tag"] == copied)
    assert (event["version"], event["commit"]) == ("support/summarize@v3", v3)
    assert "support/summarize@v2" in event["problem"] and "support/summarize@v3" in event["problem"]
    assert run_app(["-C", str(repo), "audit", "--json"]) == 0
    finding = next(e for e in json.loads(capsys.readouterr().out)["events"] if e["tag"] == copied)
    assert finding["version"] == "support/summarize@v3"
    assert run_app(["-C", str(repo), "export", str(tmp_path / "out"), "--env", "prod"]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [(p["version"], p["commit"]) for p in manifest["prompts"]] == [("support/summarize@v3", v3)]
    assert run_app(["-C", str(repo), "status", "--json"]) == 0
    cell = next(p for p in json.loads(capsys.readouterr().out)["prompts"] if p["name"] == "support/summarize")["environments"]["prod"]
    assert cell["version"] == "support/summarize@v3" and "support/summarize@v2" in cell["problem"]
    # The event workbench wrote agrees with its target: no problem.
    assert all(not e.problem for e in deployments_of_prompt(ws, "support/summarize") if e.tag == written.tag)


def _skipped_in_status_and_audit(repo: Path, capsys: pytest.CaptureFixture[str], bad: str, runs: str, problem: str) -> None:
    """prod runs `runs`, the event before the malformed tag `bad`, which status names with
    `problem` (from Git, then from the event cache) and audit reports as a violation."""
    for cold in (True, False):
        assert run_app(["-C", str(repo), "status", "--json"]) == 0
        cell = next(p for p in json.loads(capsys.readouterr().out)["prompts"] if p["name"] == "support/summarize")["environments"]["prod"]
        assert cell["commit"] == runs and bad in cell["problem"] and problem in cell["problem"], cold
    assert run_app(["-C", str(repo), "audit"]) == 1
    out = capsys.readouterr().out
    assert f"VIOLATION {bad}" in out and problem in out
